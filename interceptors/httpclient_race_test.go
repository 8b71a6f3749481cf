package interceptors_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
)

// An attempt given up on may still have its headers read by the
// transport (net/http's HTTP/2 client encodes them on its own goroutine)
// while connect writes the next attempt's grpc-timeout into the call's
// header map. Each attempt must hand the transport a map of its own. The
// race detector (CI runs -race) is what fails this test on a shared map.
func TestRetryAttemptsDoNotShareHeaders(t *testing.T) {
	stop := make(chan struct{})
	late := make(chan struct{})
	attempts := 0
	hc := interceptors.NewHTTPClient(doerFunc(func(r *http.Request) (*http.Response, error) {
		attempts++
		if attempts == 1 {
			h := r.Header
			go func() { // the transport, still reading after the attempt ended
				defer close(late)
				for {
					select {
					case <-stop:
						return
					default:
						for k, v := range h {
							_, _ = k, v
						}
					}
				}
			}()
			time.Sleep(time.Millisecond)
		} else {
			close(stop)
			<-late
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}))
	kv := norikvv1connect.NewKvClient(hc, "http://127.0.0.1:1", connect.WithGRPC(),
		connect.WithInterceptors(interceptors.NewRetry(interceptors.RetryPolicy{
			MaxAttempts: 2, InitialDelay: time.Millisecond, Jitter: -1,
		})))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("k")})
	if err == nil || attempts != 2 {
		t.Fatalf("attempts = %d, err = %v; want 2 failed attempts", attempts, err)
	}
	if _, ok := errors.AsType[*connect.Error](err); !ok {
		t.Fatalf("err = %T %v", err, err)
	}
}
