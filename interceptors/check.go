package interceptors

import "connectrpc.com/connect"

var (
	_ connect.Interceptor = (*Retry)(nil)
	_ connect.Interceptor = errorsInterceptor{}
	_ connect.Interceptor = routingInterceptor{}
	_ connect.Interceptor = validateInterceptor{}
)
