// Package interceptors holds the Connect interceptors that make generated
// NoriKV clients cluster-aware. The norikv client package is built from
// them; they also work on raw clients from norikvv1connect.
//
// Order them outermost first, as connect.WithInterceptors does:
//
//	connect.WithInterceptors(
//		interceptors.Errors(),        // connect errors → *interceptors.Error
//		interceptors.Validate(),      // protovalidate rules, before any I/O
//		retry,                        // interceptors.NewRetry(policy)
//		interceptors.Routing(router), // per attempt: key → shard → node
//	)
//
// An interceptor cannot change the URL a request goes to, so routing needs
// a partner: the HTTP client returned by NewHTTPClient, whose Do sends each
// request to the node the Routing interceptor stored in its context. Pass
// it as the generated constructor's HTTPClient.
//
// Streams pass through every interceptor here unchanged.
package interceptors
