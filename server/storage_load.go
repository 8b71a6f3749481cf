package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/vector"
)

// This file is the load side of durable mode (storage.go has the format
// and the writes): opening DIR/norikv.db, checking it, and decoding every
// record into the cluster's state.
//
// A damaged file (flipped bytes, a short record, a shard id out of range)
// must be one clear error, never a panic, a hang or a swollen heap. So,
// in this order: walkPages (storage_verify.go) checks every page header
// and element bbolt will trust, after a read-only open that reads only
// the checksummed meta pages; bbolt opens the file under guard (a panic
// or fault becomes an error); the load is a read-only transaction, also under
// guard, that changes only memory, with one decoder per record type
// (decodeKV, decodeIdem, ...) checking every length and range before
// using it; bbolt's own consistency check (tx.Check: pages freed twice,
// freed and still in use) runs before anything is written. A new bucket
// adds a decoder and a loop in read.

// DataFileName is the file a data dir holds.
const DataFileName = "norikv.db"

// DamagedError is the error Start returns for a data dir whose file cannot
// be read back: it names the file and what is wrong with it.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("server: data file %s is damaged (%v); move it away to start with an empty data dir, or restore it from a backup", e.Path, e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// guard runs fn, turning a panic into an error: bbolt's assertions on a
// damaged page, and (SetPanicOnFault) a read of a page id beyond the
// mapped file.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return fn()
}

// openStore opens (or creates) cfg.DataDir and loads it into c's shards,
// idempotency cache and client sessions. Called by start0 before any node
// serves. clusterID is the id a new data dir records; a data dir that has
// one replaces it with its own (see newIncarnation).
func (c *Cluster) openStore(clusterID *string) error {
	cfg := c.cfg
	switch cfg.Sync {
	case "":
		cfg.Sync = SyncBatch
	case SyncBatch, SyncAlways, SyncNone:
	default:
		return fmt.Errorf("server: Sync %q is not one of batch, always, none", cfg.Sync)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("server: data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, DataFileName)
	// bbolt's read-write open loads the freelist, trusting its page
	// header; a read-only open reads only the checksummed meta pages. So
	// a file that exists is opened read-only first, to learn its page
	// size, and walked before bbolt reads anything else.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		ro, err := openBolt(path, cfg.DataDir, &bolt.Options{Timeout: time.Second, ReadOnly: true})
		if err != nil {
			return err
		}
		err = walkPages(path, ro.Info().PageSize)
		ro.Close()
		if err != nil {
			return &DamagedError{Path: path, Err: err}
		}
	}
	db, err := openBolt(path, cfg.DataDir, &bolt.Options{Timeout: time.Second, NoSync: cfg.Sync == SyncNone})
	if err != nil {
		return err
	}
	// A lone writer should not wait long for company: an fsync takes
	// about a millisecond, so that is what a batch waits.
	db.MaxBatchDelay = time.Millisecond
	st := &store{c: c, db: db, mode: cfg.Sync, wall: time.Now().UnixNano() - c.clock()}
	if err := st.load(c, clusterID); err != nil {
		db.Close()
		if _, ok := errors.AsType[*shapeError](err); ok {
			return err
		}
		return &DamagedError{Path: path, Err: err}
	}
	c.store = st
	c.sessions.track = true
	for _, s := range c.shards {
		s.journaled = true
		// Lagging followers start from the loaded state, as they
		// would from a snapshot.
		s.resetCopies()
	}
	return nil
}

// openBolt opens the data file under guard, naming what went wrong: a
// data dir in use, a damaged file, or another error.
func openBolt(path, dir string, opts *bolt.Options) (*bolt.DB, error) {
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, opts)
		return err
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("server: data dir %s is in use by another server", dir)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, &DamagedError{Path: path, Err: err}
	case db == nil && !errors.Is(err, os.ErrPermission) && !errors.Is(err, os.ErrNotExist):
		// A panic or a file bbolt cannot map (too small, bad page size).
		if fi, serr := os.Stat(path); serr == nil && fi.Size() > 0 {
			return nil, &DamagedError{Path: path, Err: err}
		}
	}
	return nil, fmt.Errorf("server: opening %s: %w", path, err)
}

func (st *store) shape(c *Cluster) []byte {
	return fmt.Appendf(nil, "nodes=%d shards=%d replication=%d", c.cfg.Nodes, len(c.shards), c.cfg.ReplicationFactor)
}

// shapeError is a data dir of another cluster shape: not damage.
type shapeError struct{ dir, got, want string }

func (e *shapeError) Error() string {
	return fmt.Sprintf("server: data dir %s holds a cluster with %s; this one has %s: start it with the same nodes, shards and replication, or use another data dir",
		e.dir, e.got, e.want)
}

// load reads the file into c (read), checks it, then forgets on disk what
// read found expired or beyond the idempotency budget.
func (st *store) load(c *Cluster, clusterID *string) error {
	var stale staleKeys
	err := guard(func() error {
		return st.db.View(func(tx *bolt.Tx) error { return st.read(c, tx, &stale, clusterID) })
	})
	if err != nil {
		return err
	}
	if err := guard(st.check); err != nil {
		return err
	}
	return guard(func() error {
		return st.db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketMeta, bucketShards, bucketKV, bucketIdem, bucketSess, bucketVecNS, bucketVec} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			meta := tx.Bucket(bucketMeta)
			if err := meta.Put(keyShape, st.shape(c)); err != nil {
				return err
			}
			if err := meta.Put(keyClusterID, []byte(*clusterID)); err != nil {
				return err
			}
			// Sessions load here, not in read: their records are checked
			// as they are read (length, order), and the ones a restart
			// makes stale are deleted in the same pass.
			if err := st.loadSessions(tx, st.wall+c.clock()); err != nil {
				return err
			}
			if err := deleteAll(tx.Bucket(bucketKV), stale.kv); err != nil {
				return err
			}
			return deleteAll(tx.Bucket(bucketIdem), stale.idem)
		})
	})
}

// check runs bbolt's consistency check over the whole file (pages freed
// twice, or freed and still in use, would corrupt later writes). The
// check runs on a goroutine of its own, where a panic cannot be caught;
// walkPages has already made sure every page it reads is in the file and
// every element in its page.
func (st *store) check() error {
	return st.db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		return first
	})
}

// staleKeys are stored keys read found no longer wanted, deleted after the
// check.
type staleKeys struct{ kv, idem [][]byte }

// recordError names a record that does not decode.
func recordError(bucket, k []byte, format string, args ...any) error {
	if len(k) > 32 {
		k = k[:32]
	}
	return fmt.Errorf("bucket %s, key %x: %s", bucket, k, fmt.Sprintf(format, args...))
}

// read decodes every record into c's shards and idempotency cache. It
// changes nothing on disk.
func (st *store) read(c *Cluster, tx *bolt.Tx, stale *staleKeys, clusterID *string) error {
	now := c.clock()
	nowWall := st.wall + now
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil // a new file
	}
	want := st.shape(c)
	if got := meta.Get(keyShape); got != nil && !bytes.Equal(got, want) {
		var nodes, shards, rf int
		if _, err := fmt.Sscanf(string(got), "nodes=%d shards=%d replication=%d", &nodes, &shards, &rf); err != nil ||
			fmt.Sprintf("nodes=%d shards=%d replication=%d", nodes, shards, rf) != string(got) {
			return recordError(bucketMeta, keyShape, "unreadable cluster shape %q", got)
		}
		return &shapeError{dir: c.cfg.DataDir, got: string(got), want: string(want)}
	}
	if v := meta.Get(keyClusterID); v != nil {
		if len(v) == 0 || len(v) > 64 || !utf8.Valid(v) {
			return recordError(bucketMeta, keyClusterID, "%d bytes, want 1 to 64 of UTF-8", len(v))
		}
		*clusterID = string(v)
	}
	if v := meta.Get(keyEpoch); v != nil {
		if len(v) != 8 {
			return recordError(bucketMeta, keyEpoch, "%d bytes, want 8", len(v))
		}
		// Clients ignore a view whose epoch is not above the one they
		// hold, so the restarted cluster's views continue from the last
		// one published.
		c.epoch = binary.BigEndian.Uint64(v)
	}
	n := uint32(len(c.shards))
	err := forEach(tx, bucketShards, func(k, v []byte) error {
		id, term, index, err := decodeShardPos(k, v, n)
		if err != nil {
			return err
		}
		s := c.shards[id]
		// A new term: versions written from now on are all greater than
		// every version before the restart.
		s.term, s.index = term+1, index
		return nil
	})
	if err != nil {
		return err
	}
	err = forEach(tx, bucketKV, func(k, v []byte) error {
		r, err := decodeKV(k, v, n)
		if err != nil {
			return err
		}
		if r.deadline != 0 && r.deadline <= nowWall {
			stale.kv = append(stale.kv, bytes.Clone(k))
			return nil
		}
		s := c.shards[r.shard]
		e := &entry{key: r.key, value: bytes.Clone(r.value), ver: r.ver}
		s.kv[e.key] = e
		if r.deadline != 0 {
			e.expires = r.deadline - st.wall
			s.ttl.set(e)
			s.due(e.expires)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := st.readIdem(c, tx, nowWall, stale); err != nil {
		return err
	}
	return st.readVectors(c, tx)
}

// forEach calls fn for every record of the named bucket, if it exists.
// No bucket holds nested buckets; a damaged page may make a record look
// like one, which is an error.
func forEach(tx *bolt.Tx, name []byte, fn func(k, v []byte) error) error {
	b := tx.Bucket(name)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return recordError(name, k, "a nested bucket")
		}
		return fn(k, v)
	})
}

// Idempotency keys are stored under store time (wall clock, big endian),
// shard and key, so they load in the order they were written, and the
// expired ones, then those beyond IdempotencyMaxEntries (the oldest), are
// a prefix to forget.
func (st *store) readIdem(c *Cluster, tx *bolt.Tx, nowWall int64, stale *staleKeys) error {
	cut := nowWall - c.idem.ttl
	var live int
	err := forEach(tx, bucketIdem, func(k, _ []byte) error {
		if len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) > cut {
			live++
		}
		return nil
	})
	if err != nil {
		return err
	}
	skip := live - c.idem.max // the oldest live ones beyond the budget
	n := uint32(len(c.shards))
	return forEach(tx, bucketIdem, func(k, v []byte) error {
		r, err := decodeIdem(k, v, n)
		if err != nil {
			return err
		}
		if r.stored <= cut || skip > 0 {
			if r.stored > cut {
				skip--
			}
			stale.idem = append(stale.idem, bytes.Clone(k))
			return nil
		}
		c.idem.restore(r.key, r.fp, r.res, r.stored-st.wall)
		return nil
	})
}

func (st *store) readVectors(c *Cluster, tx *bolt.Tx) error {
	n := uint32(len(c.shards))
	byNS := map[string]*vectorNamespace{}
	err := forEach(tx, bucketVecNS, func(k, v []byte) error {
		id, name, ns, err := decodeVecNS(k, v, n)
		if err != nil {
			return err
		}
		idx, err := vector.New(vector.Config{Dimensions: int(ns.dims), Distance: distanceOf(ns.distance), Kind: kindOf(ns.kind)})
		if err != nil {
			return recordError(bucketVecNS, k, "vector index %q: %v", name, err)
		}
		ns.idx = idx
		s := c.shards[id]
		if s.vectors == nil {
			s.vectors = make(map[string]*vectorNamespace)
		}
		s.vectors[name] = ns
		byNS[name] = ns
		return nil
	})
	if err != nil {
		return err
	}
	ids := map[string][]string{}
	vecs := map[string][][]float32{}
	err = forEach(tx, bucketVec, func(k, v []byte) error {
		name, id, vec, err := decodeVec(k, v, n)
		if err != nil {
			return err
		}
		ns := byNS[name]
		switch {
		case ns == nil:
			return recordError(bucketVec, k, "a vector of index %q, which does not exist", name)
		case len(vec) != int(ns.dims):
			return recordError(bucketVec, k, "a vector of %d dimensions in index %q of %d", len(vec), name, ns.dims)
		}
		ids[name] = append(ids[name], id)
		vecs[name] = append(vecs[name], vec)
		return nil
	})
	if err != nil {
		return err
	}
	for name, ns := range byNS {
		if len(ids[name]) == 0 {
			continue
		}
		if err := ns.idx.InsertBatch(ids[name], vecs[name]); err != nil {
			return fmt.Errorf("rebuilding vector index %q: %w", name, err)
		}
	}
	return nil
}

// The decoders, one per record type: each checks every length and range
// storage.go's writers guarantee, so a damaged record is an error naming
// its bucket and key.

// decodeShard reads the shard id k starts with.
func decodeShard(bucket, k []byte, minLen int, shards uint32) (uint32, error) {
	if len(k) < minLen {
		return 0, recordError(bucket, k, "key of %d bytes, want at least %d", len(k), minLen)
	}
	id := binary.BigEndian.Uint32(k)
	if id >= shards {
		return 0, recordError(bucket, k, "shard %d out of range (%d shards)", id, shards)
	}
	return id, nil
}

// decodeShardPos decodes a shard's term and log index.
func decodeShardPos(k, v []byte, shards uint32) (id uint32, term, index uint64, err error) {
	if id, err = decodeShard(bucketShards, k, 4, shards); err != nil {
		return 0, 0, 0, err
	}
	if len(k) != 4 || len(v) != 16 {
		return 0, 0, 0, recordError(bucketShards, k, "key of %d bytes and value of %d, want 4 and 16", len(k), len(v))
	}
	term, index = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	if term == math.MaxUint64 {
		return 0, 0, 0, recordError(bucketShards, k, "term %d leaves no next term", term)
	}
	return id, term, index, nil
}

// kvRecord is a stored key.
type kvRecord struct {
	shard    uint32
	key      string
	value    []byte // aliases the file: clone to keep
	ver      version
	deadline int64 // wall clock Unix nanoseconds; 0 = never
}

func decodeKV(k, v []byte, shards uint32) (kvRecord, error) {
	id, err := decodeShard(bucketKV, k, 4, shards)
	if err != nil {
		return kvRecord{}, err
	}
	if len(v) < 24 {
		return kvRecord{}, recordError(bucketKV, k, "value of %d bytes, shorter than its 24-byte header", len(v))
	}
	return kvRecord{shard: id, key: string(k[4:]), value: v[24:],
		ver:      version{term: binary.BigEndian.Uint64(v), index: binary.BigEndian.Uint64(v[8:])},
		deadline: int64(binary.BigEndian.Uint64(v[16:]))}, nil
}

// idemRecord is a stored idempotency entry.
type idemRecord struct {
	stored int64 // wall clock Unix nanoseconds
	key    scopedKey
	fp     uint64
	res    idemResult
}

func decodeIdem(k, v []byte, shards uint32) (idemRecord, error) {
	if len(k) < 12 {
		return idemRecord{}, recordError(bucketIdem, k, "key of %d bytes, want at least 12", len(k))
	}
	id, err := decodeShard(bucketIdem, k[8:], 4, shards)
	if err != nil {
		return idemRecord{}, err
	}
	if len(v) != 25 || v[24] > 1 {
		return idemRecord{}, recordError(bucketIdem, k, "value of %d bytes (want 25, ending in 0 or 1)", len(v))
	}
	return idemRecord{stored: int64(binary.BigEndian.Uint64(k)), key: scopedKey{shard: id, key: string(k[12:])},
		fp:  binary.BigEndian.Uint64(v),
		res: idemResult{ver: version{term: binary.BigEndian.Uint64(v[8:]), index: binary.BigEndian.Uint64(v[16:])}, flag: v[24] == 1}}, nil
}

// decodeVecNS decodes a vector namespace (its index is left to build).
func decodeVecNS(k, v []byte, shards uint32) (uint32, string, *vectorNamespace, error) {
	id, err := decodeShard(bucketVecNS, k, 4, shards)
	if err != nil {
		return 0, "", nil, err
	}
	if len(v) != 12 {
		return 0, "", nil, recordError(bucketVecNS, k, "value of %d bytes, want 12", len(v))
	}
	ns := &vectorNamespace{dims: binary.BigEndian.Uint32(v), distance: v1.DistanceFunction(binary.BigEndian.Uint32(v[4:])), kind: v1.VectorIndexType(binary.BigEndian.Uint32(v[8:]))}
	if _, ok := v1.DistanceFunction_name[int32(ns.distance)]; !ok || int32(ns.distance) < 0 {
		return 0, "", nil, recordError(bucketVecNS, k, "unknown distance %d", ns.distance)
	}
	if _, ok := v1.VectorIndexType_name[int32(ns.kind)]; !ok || int32(ns.kind) < 0 {
		return 0, "", nil, recordError(bucketVecNS, k, "unknown index type %d", ns.kind)
	}
	return id, string(k[4:]), ns, nil
}

// decodeVec decodes a stored vector: its namespace, id and components.
func decodeVec(k, v []byte, shards uint32) (ns, id string, vec []float32, err error) {
	if _, err := decodeShard(bucketVec, k, 8, shards); err != nil {
		return "", "", nil, err
	}
	n := binary.BigEndian.Uint32(k[4:])
	if uint64(n) > uint64(len(k)-8) {
		return "", "", nil, recordError(bucketVec, k, "namespace of %d bytes in a key of %d", n, len(k))
	}
	if len(v)%4 != 0 {
		return "", "", nil, recordError(bucketVec, k, "vector of %d bytes, not a multiple of 4", len(v))
	}
	vec = make([]float32, len(v)/4)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(v[4*i:]))
	}
	return string(k[8 : 8+n]), string(k[8+n:]), vec, nil
}

func deleteAll(b *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
