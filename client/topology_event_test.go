package norikv

import (
	"reflect"
	"testing"

	"github.com/norikv/norikv-go/internal/topology"
)

// TopologyEvent is the public copy of the topology manager's event (kept
// separate so go doc shows its fields). A field added to one and not the
// other fails here rather than being silently dropped by eventFrom.
func TestTopologyEventMirrorsManagerEvent(t *testing.T) {
	for _, pair := range [][2]reflect.Type{
		{reflect.TypeFor[TopologyEvent](), reflect.TypeFor[topology.Event]()},
		{reflect.TypeFor[LeaderChange](), reflect.TypeFor[topology.LeaderChange]()},
	} {
		pub, in := pair[0], pair[1]
		if pub.NumField() != in.NumField() {
			t.Fatalf("%v has %d fields, %v has %d", pub, pub.NumField(), in, in.NumField())
		}
		for i := range pub.NumField() {
			p, q := pub.Field(i), in.Field(i)
			if p.Name != q.Name || p.Type.Kind() != q.Type.Kind() {
				t.Errorf("%v field %d is %s %v, %v has %s %v", pub, i, p.Name, p.Type, in, q.Name, q.Type)
			}
		}
	}
}

func TestEventFromCopiesEveryField(t *testing.T) {
	in := topology.Event{
		PreviousEpoch: 3, CurrentEpoch: 5,
		AddedNodes: []string{"n4"}, RemovedNodes: []string{"n1"},
		LeaderChanges: []topology.LeaderChange{{Shard: 7, Previous: "n1", Current: "n2"}, {Shard: 9, Current: "n4"}},
	}
	got := eventFrom(in)
	want := TopologyEvent{
		PreviousEpoch: 3, CurrentEpoch: 5,
		AddedNodes: []string{"n4"}, RemovedNodes: []string{"n1"},
		LeaderChanges: []LeaderChange{{Shard: 7, Previous: "n1", Current: "n2"}, {Shard: 9, Current: "n4"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("eventFrom = %+v, want %+v", got, want)
	}
	if eventFrom(topology.Event{}).LeaderChanges != nil {
		t.Fatal("an event with no leader changes should have a nil LeaderChanges, as before")
	}
}
