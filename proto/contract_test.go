// Package proto_test proves that the compiled norikv.v1 schema matches the
// NoriKV wire contract (../shared/CONTRACT.md) name for name and number for
// number. The tables below are written in the contract's own notation so a
// reviewer can compare them line by line; the test parses them and checks
// the descriptors generated from proto/.
package proto_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/norikv/norikv-go/gen/norikv/v1"
)

const pkg = "norikv.v1"

// contractServices: service, rpc, request, response, kind.
var contractServices = []string{
	"Kv Put PutRequest PutResponse unary",
	"Kv Get GetRequest GetResponse unary",
	"Kv Delete DeleteRequest DeleteResponse unary",
	"Meta WatchCluster ClusterView ClusterView server-stream",
	"Admin TransferShard ShardInfo ShardInfo unary",
	"Admin SnapshotShard ShardInfo ShardInfo unary",
	"Vector CreateIndex CreateVectorIndexRequest CreateVectorIndexResponse unary",
	"Vector DropIndex DropVectorIndexRequest DropVectorIndexResponse unary",
	"Vector Insert VectorInsertRequest VectorInsertResponse unary",
	"Vector Delete VectorDeleteRequest VectorDeleteResponse unary",
	"Vector Search VectorSearchRequest VectorSearchResponse unary",
	"Vector Get VectorGetRequest VectorGetResponse unary",
}

// addedServices are rpcs this project added to the contract's, in the same
// notation: each is one old peers ignore safely (a server without it
// answers UNIMPLEMENTED, and clients then fall back to the contract's rpcs).
var addedServices = []string{
	"Kv Batch BatchRequest BatchResponse unary",
}

// addedFields are fields beyond the contract's, by message, in the
// table's form: additions old peers ignore (an unknown field is skipped,
// and a view without it means an old server).
var addedFields = map[string][]string{
	// Client sessions (docs/idempotency-sessions.md): what the server
	// announces; clients stamp automatic keys only when it is there. The
	// incarnation scopes epochs: a restarted cluster takes a new one.
	"ClusterView": {"capabilities=4 repeated string", "incarnation=5 string"},
}

// contractMessages is the contract's "Messages" list, verbatim.
var contractMessages = []string{
	"Version: term=1 uint64, index=2 uint64",
	"PutRequest: key=1 bytes, value=2 bytes, ttl_ms=3 uint64, idempotency_key=4 string, if_match=5 Version",
	"PutResponse: version=1 Version, meta=2 map<string,string>",
	"GetRequest: key=1 bytes, consistency=2 string",
	"GetResponse: value=1 bytes, version=2 Version, meta=3 map<string,string>",
	"DeleteRequest: key=1 bytes, idempotency_key=2 string, if_match=3 Version",
	"DeleteResponse: tombstoned=1 bool, version=2 Version",
	"ClusterNode: id=1 string, addr=2 string, role=3 string",
	"ShardReplica: node_id=1 string, leader=2 bool",
	"ShardInfo: id=1 uint32, replicas=2 repeated ShardReplica",
	"ClusterView: epoch=1 uint64, nodes=2 repeated ClusterNode, shards=3 repeated ShardInfo",
	"VectorMatch: id=1 string, distance=2 float, vector=3 repeated float",
	"CreateVectorIndexRequest: namespace=1 string, dimensions=2 uint32, distance=3 DistanceFunction, index_type=4 VectorIndexType, idempotency_key=5 string",
	"CreateVectorIndexResponse: created=1 bool, meta=2 map<string,string>",
	"DropVectorIndexRequest: namespace=1 string, idempotency_key=2 string",
	"DropVectorIndexResponse: dropped=1 bool",
	"VectorInsertRequest: namespace=1 string, id=2 string, vector=3 repeated float, idempotency_key=4 string",
	"VectorInsertResponse: inserted=1 bool, version=2 Version",
	"VectorDeleteRequest: namespace=1 string, id=2 string, idempotency_key=3 string",
	"VectorDeleteResponse: deleted=1 bool",
	"VectorSearchRequest: namespace=1 string, query=2 repeated float, k=3 uint32, include_vectors=4 bool, consistency=5 string",
	"VectorSearchResponse: matches=1 repeated VectorMatch, search_time_us=2 uint64",
	"VectorGetRequest: namespace=1 string, id=2 string, consistency=3 string",
	"VectorGetResponse: vector=1 repeated float, found=2 bool",
}

// contractEnums: enum, then VALUE=number with the value's full name.
var contractEnums = []string{
	"DistanceFunction: DISTANCE_FUNCTION_UNSPECIFIED=0, DISTANCE_FUNCTION_EUCLIDEAN=1, DISTANCE_FUNCTION_COSINE=2, DISTANCE_FUNCTION_INNER_PRODUCT=3",
	"VectorIndexType: VECTOR_INDEX_TYPE_UNSPECIFIED=0, VECTOR_INDEX_TYPE_BRUTE_FORCE=1, VECTOR_INDEX_TYPE_HNSW=2",
}

// sideEffectFree lists the rpcs marked NO_SIDE_EFFECTS (Connect may use GET).
var sideEffectFree = map[string]bool{"Kv.Get": true, "Vector.Search": true, "Vector.Get": true}

func find(t *testing.T, name string) protoreflect.Descriptor {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(pkg + "." + name))
	if err != nil {
		t.Fatalf("%s.%s is missing from the compiled schema: %v", pkg, name, err)
	}
	return d
}

func TestContractServices(t *testing.T) {
	all := append(append([]string{}, contractServices...), addedServices...)
	for _, line := range all {
		f := strings.Fields(line)
		svc, rpc, in, out, kind := f[0], f[1], f[2], f[3], f[4]
		sd, ok := find(t, svc).(protoreflect.ServiceDescriptor)
		if !ok {
			t.Fatalf("%s is not a service", svc)
		}
		md := sd.Methods().ByName(protoreflect.Name(rpc))
		if md == nil {
			t.Errorf("rpc %s.%s missing", svc, rpc)
			continue
		}
		if got := string(md.Input().FullName()); got != pkg+"."+in {
			t.Errorf("%s.%s request = %s, contract says %s", svc, rpc, got, in)
		}
		if got := string(md.Output().FullName()); got != pkg+"."+out {
			t.Errorf("%s.%s response = %s, contract says %s", svc, rpc, got, out)
		}
		gotKind := "unary"
		switch {
		case md.IsStreamingClient() && md.IsStreamingServer():
			gotKind = "bidi-stream"
		case md.IsStreamingServer():
			gotKind = "server-stream"
		case md.IsStreamingClient():
			gotKind = "client-stream"
		}
		if gotKind != kind {
			t.Errorf("%s.%s is %s, contract says %s", svc, rpc, gotKind, kind)
		}
	}
	// No rpc beyond the contract's: a new one must be added to the table
	// deliberately, after checking old peers ignore it safely.
	want := map[string]bool{}
	for _, line := range all {
		f := strings.Fields(line)
		want[f[0]+"."+f[1]] = true
	}
	for _, svc := range []string{"Kv", "Meta", "Admin", "Vector"} {
		sd := find(t, svc).(protoreflect.ServiceDescriptor)
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			name := svc + "." + string(md.Name())
			if !want[name] {
				t.Errorf("rpc %s is not in the contract", name)
			}
			level := md.Options().ProtoReflect().Get(
				md.Options().ProtoReflect().Descriptor().Fields().ByName("idempotency_level")).Enum()
			const noSideEffects = 1
			if (level == noSideEffects) != sideEffectFree[name] {
				t.Errorf("rpc %s idempotency_level = %d, want NO_SIDE_EFFECTS only for %v", name, level, sideEffectFree)
			}
		}
	}
}

func TestContractMessages(t *testing.T) {
	for _, line := range contractMessages {
		name, fields, _ := strings.Cut(line, ": ")
		md, ok := find(t, name).(protoreflect.MessageDescriptor)
		if !ok {
			t.Errorf("%s is not a message", name)
			continue
		}
		specs := append(strings.Split(fields, ", "), addedFields[name]...)
		if md.Fields().Len() != len(specs) {
			t.Errorf("%s has %d fields, contract lists %d", name, md.Fields().Len(), len(specs))
		}
		for _, spec := range specs {
			fname, rest, _ := strings.Cut(spec, "=")
			numStr, typ, _ := strings.Cut(rest, " ")
			num, err := strconv.Atoi(numStr)
			if err != nil {
				t.Fatalf("bad table entry %q", spec)
			}
			fd := md.Fields().ByName(protoreflect.Name(fname))
			if fd == nil {
				t.Errorf("%s.%s missing", name, fname)
				continue
			}
			if int(fd.Number()) != num {
				t.Errorf("%s.%s has number %d, contract says %d", name, fname, fd.Number(), num)
			}
			if got := fieldType(fd); got != typ {
				t.Errorf("%s.%s has type %q, contract says %q", name, fname, got, typ)
			}
		}
	}
}

// fieldType renders a field in the contract's notation.
func fieldType(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return fmt.Sprintf("map<%s,%s>", fieldType(fd.MapKey()), fieldType(fd.MapValue()))
	}
	var base string
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		base = string(fd.Message().Name())
		if fd.Message().ParentFile().Package() != pkg {
			base = string(fd.Message().FullName())
		}
	case protoreflect.EnumKind:
		base = string(fd.Enum().Name())
	default:
		base = fd.Kind().String()
	}
	if fd.IsList() {
		return "repeated " + base
	}
	return base
}

func TestContractEnums(t *testing.T) {
	for _, line := range contractEnums {
		name, values, _ := strings.Cut(line, ": ")
		ed, ok := find(t, name).(protoreflect.EnumDescriptor)
		if !ok {
			t.Errorf("%s is not an enum", name)
			continue
		}
		specs := strings.Split(values, ", ")
		if ed.Values().Len() != len(specs) {
			t.Errorf("%s has %d values, contract lists %d", name, ed.Values().Len(), len(specs))
		}
		for _, spec := range specs {
			vname, numStr, _ := strings.Cut(spec, "=")
			num, _ := strconv.Atoi(numStr)
			vd := ed.Values().ByName(protoreflect.Name(vname))
			if vd == nil {
				t.Errorf("%s.%s missing", name, vname)
				continue
			}
			if int(vd.Number()) != num {
				t.Errorf("%s.%s = %d, contract says %d", name, vname, vd.Number(), num)
			}
		}
	}
}

// TestContractFilePackage checks every schema file declares norikv.v1 and
// proto3, so field presence and defaults match the existing peers.
func TestContractFilePackage(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
		n++
		if fd.Syntax() != protoreflect.Proto3 {
			t.Errorf("%s is %v, want proto3", fd.Path(), fd.Syntax())
		}
		return true
	})
	if n == 0 {
		t.Fatal("no files in package norikv.v1")
	}
}
