package norikvtest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/norikvtest"
)

func ExampleStart() {
	t, done := exampleT() // in a test, use its *testing.T
	defer done()

	c := norikvtest.Start(t, norikvtest.WithNodes(3), norikvtest.WithShards(64))

	// Talk to the leader of the key's shard with any NoriKV client; here the
	// generated Connect client.
	key := []byte("user:123")
	leader := c.Addr(c.Leader(c.ShardOf(key)))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	kv := norikvv1connect.NewKvClient(&http.Client{Transport: tr}, "http://"+leader)

	ctx := context.Background()
	put, err := kv.Put(ctx, &v1.PutRequest{Key: key, Value: []byte("Ada")})
	if err != nil {
		panic(err)
	}
	got, err := kv.Get(ctx, &v1.GetRequest{Key: key})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s at index %d\n", got.Value, put.Version.Index)

	// Failover: stop the leader; another replica takes the shard over.
	if err := c.StopNode(c.Leader(c.ShardOf(key))); err != nil {
		panic(err)
	}
	fmt.Println("new leader differs:", c.Addr(c.Leader(c.ShardOf(key))) != leader)
	// Output:
	// Ada at index 1
	// new leader differs: true
}

// exampleT stands in for the *testing.T an example does not have: it runs
// cleanups when done is called and panics on failure.
func exampleT() (testing.TB, func()) {
	t := &exampleTB{}
	return t, func() {
		for _, v := range slices.Backward(t.cleanups) {
			v()
		}
	}
}

type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (t *exampleTB) Helper()                        {}
func (t *exampleTB) Cleanup(f func())               { t.cleanups = append(t.cleanups, f) }
func (t *exampleTB) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
