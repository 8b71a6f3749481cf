package server

import (
	"strconv"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// version is a write's position in its shard's log: the term the shard was
// in and the log index. Kept as a plain value so entries carry no pointers.
type version struct {
	term, index uint64
}

func (v version) proto() *v1.Version { return &v1.Version{Term: v.term, Index: v.index} }

// String is "term:index", the form norikv.Version.String prints, so server
// messages and client output agree.
func (v version) String() string {
	return strconv.FormatUint(v.term, 10) + ":" + strconv.FormatUint(v.index, 10)
}

func versionOf(p *v1.Version) version { return version{term: p.GetTerm(), index: p.GetIndex()} }

// putResponse and getResponse build a reply and its Version in one
// allocation (the hot path's replies; the Version points into the same
// block, which lives as long as either is referenced).
func putResponse(v version) *v1.PutResponse {
	b := &struct {
		res v1.PutResponse
		ver v1.Version
	}{}
	b.ver.Term, b.ver.Index = v.term, v.index
	b.res.Version = &b.ver
	return &b.res
}

func getResponse(value []byte, v version) *v1.GetResponse {
	b := &struct {
		res v1.GetResponse
		ver v1.Version
	}{}
	b.ver.Term, b.ver.Index = v.term, v.index
	b.res.Value, b.res.Version = value, &b.ver
	return &b.res
}
