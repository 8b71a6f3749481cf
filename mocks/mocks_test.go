package mocks_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"go.uber.org/mock/gomock"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/mocks"
)

// incrementCounter is "user code": a compare-and-swap loop that adds one to
// a decimal counter, retrying when another writer got there first. It
// depends on norikv.KV, not *norikv.Client, so tests can hand it a mock.
func incrementCounter(ctx context.Context, kv norikv.KV, key string) (int, error) {
	const maxTries = 5
	for range maxTries {
		cur, err := kv.Get(ctx, key)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(string(cur.Value))
		if err != nil {
			return 0, fmt.Errorf("counter %q holds %q: %w", key, cur.Value, err)
		}
		_, err = kv.Put(ctx, key, []byte(strconv.Itoa(n+1)), norikv.IfMatch(cur.Version))
		if errors.Is(err, norikv.ErrVersionMismatch) {
			continue // lost the race: read again
		}
		if err != nil {
			return 0, err
		}
		return n + 1, nil
	}
	return 0, fmt.Errorf("counter %q: still contended after %d tries", key, maxTries)
}

func TestIncrementCounterRetriesOnVersionMismatch(t *testing.T) {
	ctrl := gomock.NewController(t)
	kv := mocks.NewMockKV(ctrl)
	ctx := context.Background()
	v5 := norikv.Version{Term: 1, Index: 5}
	v6 := norikv.Version{Term: 1, Index: 6}

	gomock.InOrder(
		kv.EXPECT().Get(gomock.Any(), "counter").Return(&norikv.GetResult{Value: []byte("41"), Version: v5}, nil),
		// Someone else wrote 42 in between: our CAS against v5 fails.
		kv.EXPECT().Put(gomock.Any(), "counter", []byte("42"), norikv.IfMatch(v5)).Return(norikv.Version{}, norikv.ErrVersionMismatch),
		kv.EXPECT().Get(gomock.Any(), "counter").Return(&norikv.GetResult{Value: []byte("42"), Version: v6}, nil),
		kv.EXPECT().Put(gomock.Any(), "counter", []byte("43"), norikv.IfMatch(v6)).Return(norikv.Version{Term: 1, Index: 7}, nil),
	)

	got, err := incrementCounter(ctx, kv, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got != 43 {
		t.Fatalf("incrementCounter = %d, want 43", got)
	}
}

func TestIncrementCounterStopsOnOtherErrors(t *testing.T) {
	ctrl := gomock.NewController(t)
	kv := mocks.NewMockKV(ctrl)
	kv.EXPECT().Get(gomock.Any(), "missing").Return(nil, norikv.ErrKeyNotFound)

	_, err := incrementCounter(context.Background(), kv, "missing")
	if !errors.Is(err, norikv.ErrKeyNotFound) {
		t.Fatalf("err = %v, want ErrKeyNotFound", err)
	}
}

// The whole API mock works where code takes norikv.API.
func TestMockAPISatisfiesInterface(t *testing.T) {
	ctrl := gomock.NewController(t)
	var api norikv.API = mocks.NewMockAPI(ctrl)
	m := api.(*mocks.MockAPI)
	m.EXPECT().ShardForKey("hello").Return(309)
	if got := api.ShardForKey("hello"); got != 309 {
		t.Fatalf("ShardForKey = %d", got)
	}
}

// The generated-client mocks stand in for raw Connect clients.
func TestMockKvClient(t *testing.T) {
	ctrl := gomock.NewController(t)
	kv := mocks.NewMockKvClient(ctrl)
	kv.EXPECT().
		Get(gomock.Any(), gomock.Cond(func(r *v1.GetRequest) bool { return string(r.GetKey()) == "k" })).
		Return(&v1.GetResponse{Value: []byte("v"), Version: &v1.Version{Term: 1, Index: 1}}, nil)
	res, err := kv.Get(context.Background(), &v1.GetRequest{Key: []byte("k")})
	if err != nil || string(res.GetValue()) != "v" {
		t.Fatalf("Get = %v, %v", res, err)
	}
}

// A unit test of code that uses NoriKV, with no cluster: expectations name
// the key and the options, and return what the server would.
func ExampleNewMockKV() {
	ctrl := gomock.NewController(exampleT{})
	defer ctrl.Finish()
	kv := mocks.NewMockKV(ctrl)

	kv.EXPECT().Get(gomock.Any(), "greeting").
		Return(&norikv.GetResult{Value: []byte("hello"), Version: norikv.Version{Term: 1, Index: 3}}, nil)
	kv.EXPECT().Put(gomock.Any(), "greeting", []byte("hello, world"), norikv.IfMatch(norikv.Version{Term: 1, Index: 3})).
		Return(norikv.Version{Term: 1, Index: 4}, nil)

	// The code under test would normally receive kv as a norikv.KV.
	ctx := context.Background()
	cur, _ := kv.Get(ctx, "greeting")
	v, _ := kv.Put(ctx, "greeting", append(cur.Value, ", world"...), norikv.IfMatch(cur.Version))
	fmt.Println(v.Index)
	// Output: 4
}

// exampleT lets an Example drive a gomock controller; in a test, pass t.
type exampleT struct{}

func (exampleT) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (exampleT) Helper()                           {}

// loadProfiles is "user code" that reads many keys in one call; it depends
// on norikv.Batches, so a test hands it a mock.
func loadProfiles(ctx context.Context, kv norikv.Batches, ids []string) (map[string]string, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = "profile:" + id
	}
	res, err := kv.MultiGet(ctx, keys)
	var be *norikv.BatchError
	if err != nil && !errors.As(err, &be) {
		return nil, err
	}
	out := map[string]string{}
	for i, r := range res {
		if be != nil && be.Errs[i] != nil {
			if errors.Is(be.Errs[i], norikv.ErrKeyNotFound) {
				continue // no profile yet
			}
			return nil, be.Errs[i]
		}
		out[ids[i]] = string(r.Value)
	}
	return out, nil
}

// A consumer test mocking MultiGet: one key found, one missing (a
// *norikv.BatchError whose entry for it is ErrKeyNotFound, as the client
// returns it).
func ExampleNewMockBatches() {
	ctrl := gomock.NewController(exampleT{})
	defer ctrl.Finish()
	kv := mocks.NewMockBatches(ctrl)

	kv.EXPECT().MultiGet(gomock.Any(), []string{"profile:ann", "profile:bob"}).
		Return([]*norikv.GetResult{{Value: []byte("Ann"), Version: norikv.Version{Term: 1, Index: 2}}, nil},
			&norikv.BatchError{Errs: []error{nil, norikv.ErrKeyNotFound}})

	got, err := loadProfiles(context.Background(), kv, []string{"ann", "bob"})
	fmt.Println(got, err)
	// Output: map[ann:Ann] <nil>
}

// The whole API mock has the batch calls too.
func TestMockAPIBatches(t *testing.T) {
	ctrl := gomock.NewController(t)
	api := mocks.NewMockAPI(ctrl)
	api.EXPECT().MultiPut(gomock.Any(), []norikv.KeyValue{{Key: "a", Value: []byte("1")}}).Return([]norikv.Version{{Term: 1, Index: 1}}, nil)
	api.EXPECT().MultiDelete(gomock.Any(), []string{"a"}).Return(nil)
	api.EXPECT().Do(gomock.Any(), gomock.Any()).Return(nil)
	var a norikv.API = api
	if _, err := a.MultiPut(context.Background(), []norikv.KeyValue{{Key: "a", Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	if err := a.MultiDelete(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(context.Background(), &norikv.Batch{}); err != nil {
		t.Fatal(err)
	}
}
