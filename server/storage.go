package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/vector"
)

// This file is durable mode (Config.DataDir): every shard's state kept in
// one bbolt file, DIR/norikv.db.
//
// Why bbolt: the state is small, read once at start and then only
// written, one transaction per acknowledged write, and bbolt gives atomic,
// fsynced transactions and group commit (DB.Batch) in one dependency-free
// package; pebble's LSM and background compactions are built for data
// sets far larger than a dev server's.
//
// What is kept, per write, in the transaction that acknowledges it: the
// keys it changed (value, version, TTL deadline as a wall-clock time, so a
// key expired while the server was down stays expired), its idempotency
// entry (with its wall-clock store time, so it is remembered for the rest
// of its window after a restart), the shard's term and log index, and
// vector namespaces and vectors (the index, HNSW included, is rebuilt from
// the vectors on start). On start the shards' terms grow by one, so no
// version is ever reused, and the placement is the configuration's, as on
// the first start: the data dir refuses another cluster shape.

// SyncMode is when durable mode fsyncs (Config.Sync).
type SyncMode string

const (
	// SyncBatch fsyncs before acknowledging, one fsync for the writes
	// that arrive together (group commit). The default.
	SyncBatch SyncMode = "batch"
	// SyncAlways fsyncs every write on its own before acknowledging it.
	SyncAlways SyncMode = "always"
	// SyncNone writes every write to the file before acknowledging it but
	// leaves flushing to the OS: it survives the server being killed, not
	// the machine losing power.
	SyncNone SyncMode = "none"
)

var (
	bucketMeta   = []byte("meta")
	bucketShards = []byte("shards")
	bucketKV     = []byte("kv")
	bucketIdem   = []byte("idem")
	bucketSess   = []byte("sess") // client sessions: session_store.go
	bucketVecNS  = []byte("vecns")
	bucketVec    = []byte("vec")
	keyShape     = []byte("shape")
	keyEpoch     = []byte("epoch")
	keyClusterID = []byte("cluster-id")
)

// store is a cluster's open data dir.
type store struct {
	c    *Cluster
	db   *bolt.DB
	mode SyncMode
	wall int64 // wall-clock Unix nanoseconds at cluster clock 0
}

// vecOp is one vector change of the write being applied.
type vecOp struct {
	ns     string
	create *vectorNamespace // CreateIndex
	drop   bool             // DropIndex
	id     string
	vec    []float32 // Insert
	del    bool      // Delete
}

// recordVector notes a vector change for the store, like recordPut.
func (s *shard) recordVector(op vecOp) {
	if s.journaled {
		s.pendingVec = append(s.pendingVec, op)
	}
}

// openStore opens (or creates) cfg.DataDir and loads it into c's shards and
// idempotency cache. Called by start0 before any node serves. clusterID
// is the id a new data dir records; a data dir that has one replaces it
// with its own (see newIncarnation).
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
	path := filepath.Join(cfg.DataDir, "norikv.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: cfg.Sync == SyncNone})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("server: data dir %s is in use by another server", cfg.DataDir)
	}
	if err != nil {
		return fmt.Errorf("server: opening %s: %w", path, err)
	}
	// A lone writer should not wait long for company: an fsync takes
	// about a millisecond, so that is what a batch waits.
	db.MaxBatchDelay = time.Millisecond
	st := &store{c: c, db: db, mode: cfg.Sync, wall: time.Now().UnixNano() - c.clock()}
	if err := st.load(c, clusterID); err != nil {
		db.Close()
		return err
	}
	c.store = st
	c.sessions.track = true
	for _, s := range c.shards {
		s.journaled = true
	}
	return nil
}

func (st *store) shape(c *Cluster) []byte {
	return fmt.Appendf(nil, "nodes=%d shards=%d replication=%d", c.cfg.Nodes, len(c.shards), c.cfg.ReplicationFactor)
}

func (st *store) load(c *Cluster, clusterID *string) error {
	now := c.clock()
	nowWall := st.wall + now
	return st.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketShards, bucketKV, bucketIdem, bucketSess, bucketVecNS, bucketVec} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		want := st.shape(c)
		if got := meta.Get(keyShape); got != nil && !bytes.Equal(got, want) {
			return fmt.Errorf("server: data dir %s holds a cluster with %s; this one has %s: start it with the same nodes, shards and replication, or use another data dir",
				c.cfg.DataDir, got, want)
		}
		if err := meta.Put(keyShape, want); err != nil {
			return err
		}
		if v := meta.Get(keyClusterID); v != nil {
			*clusterID = string(v)
		} else if err := meta.Put(keyClusterID, []byte(*clusterID)); err != nil {
			return err
		}
		if v := meta.Get(keyEpoch); v != nil {
			// Clients ignore a view whose epoch is not above the one
			// they hold, so the restarted cluster's views continue
			// from the last one published.
			c.epoch = binary.BigEndian.Uint64(v)
		}
		var stale [][]byte
		err := tx.Bucket(bucketShards).ForEach(func(k, v []byte) error {
			s := c.shards[binary.BigEndian.Uint32(k)]
			// A new term: versions written from now on are all
			// greater than every version before the restart.
			s.term = binary.BigEndian.Uint64(v) + 1
			s.index = binary.BigEndian.Uint64(v[8:])
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketKV).ForEach(func(k, v []byte) error {
			s := c.shards[binary.BigEndian.Uint32(k)]
			deadline := int64(binary.BigEndian.Uint64(v[16:]))
			if deadline != 0 && deadline <= nowWall {
				stale = append(stale, k)
				return nil
			}
			e := &entry{key: string(k[4:]), value: bytes.Clone(v[24:]),
				ver: version{term: binary.BigEndian.Uint64(v), index: binary.BigEndian.Uint64(v[8:])}}
			s.kv[e.key] = e
			if deadline != 0 {
				e.expires = deadline - st.wall
				s.ttl.set(e)
				s.due(e.expires)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := deleteAll(tx.Bucket(bucketKV), stale); err != nil {
			return err
		}
		if err := st.loadIdem(c, tx, nowWall); err != nil {
			return err
		}
		if err := st.loadSessions(tx, nowWall); err != nil {
			return err
		}
		return st.loadVectors(c, tx)
	})
}

// Idempotency keys are stored under store time (wall clock, big endian),
// shard and key, so they load in the order they were written and expired
// ones are a prefix to cut.
func (st *store) loadIdem(c *Cluster, tx *bolt.Tx, nowWall int64) error {
	b := tx.Bucket(bucketIdem)
	cut := nowWall - c.idem.ttl
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		stored := int64(binary.BigEndian.Uint64(k))
		if stored <= cut {
			stale = append(stale, k)
			return nil
		}
		sk := scopedKey{shard: binary.BigEndian.Uint32(k[8:]), key: string(k[12:])}
		fp, res := readAnswer(v)
		c.idem.restore(sk, fp, res, stored-st.wall)
		return nil
	})
	if err != nil {
		return err
	}
	return deleteAll(b, stale)
}

func (st *store) loadVectors(c *Cluster, tx *bolt.Tx) error {
	byNS := map[string]*vectorNamespace{}
	err := tx.Bucket(bucketVecNS).ForEach(func(k, v []byte) error {
		s, name := c.shards[binary.BigEndian.Uint32(k)], string(k[4:])
		ns := &vectorNamespace{dims: binary.BigEndian.Uint32(v), distance: v1.DistanceFunction(binary.BigEndian.Uint32(v[4:])), kind: v1.VectorIndexType(binary.BigEndian.Uint32(v[8:]))}
		idx, err := vector.New(vector.Config{Dimensions: int(ns.dims), Distance: distanceOf(ns.distance), Kind: kindOf(ns.kind)})
		if err != nil {
			return fmt.Errorf("server: data dir: vector index %q: %w", name, err)
		}
		ns.idx = idx
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
	err = tx.Bucket(bucketVec).ForEach(func(k, v []byte) error {
		n := binary.BigEndian.Uint32(k[4:])
		name, id := string(k[8:8+n]), string(k[8+n:])
		vec := make([]float32, len(v)/4)
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(v[4*i:]))
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
			return fmt.Errorf("server: data dir: rebuilding vector index %q: %w", name, err)
		}
	}
	return nil
}

func deleteAll(b *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// kvKey is a stored key: shard, then the key.
func kvKey(shard uint32, key string) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(key)), shard), key...)
}

// vecKey is a stored vector: shard, namespace length, namespace, id.
func vecKey(shard uint32, ns, id string) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 8+len(ns)+len(id)), shard)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ns)))
	return append(append(b, ns...), id...)
}

// kvPair is one put (del false) or delete in a transaction.
type kvPair struct {
	bucket []byte
	k, v   []byte
	del    bool
	prefix bool   // delete every key with prefix k
	upto   []byte // delete every key in [k, upto)
}

// persist writes the changes of one applied write of s, its idempotency
// entry and the shard's position in one transaction, durable by the sync
// mode when it returns. Caller holds s.mu for writing.
func (st *store) persist(s *shard, idemKey string, fp uint64, res idemResult, now int64) error {
	pairs := make([]kvPair, 0, len(s.pending)+len(s.pendingVec)+2)
	for _, op := range s.pending {
		k := kvKey(s.id, op.key)
		if op.del {
			pairs = append(pairs, kvPair{bucket: bucketKV, k: k, del: true})
			continue
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 24+len(op.value)), op.ver.term)
		v = binary.BigEndian.AppendUint64(v, op.ver.index)
		var deadline int64
		if op.expires != 0 {
			deadline = st.wall + op.expires
		}
		v = binary.BigEndian.AppendUint64(v, uint64(deadline))
		pairs = append(pairs, kvPair{bucket: bucketKV, k: k, v: append(v, op.value...)})
	}
	for _, op := range s.pendingVec {
		switch {
		case op.create != nil:
			v := binary.BigEndian.AppendUint32(nil, op.create.dims)
			v = binary.BigEndian.AppendUint32(v, uint32(op.create.distance))
			v = binary.BigEndian.AppendUint32(v, uint32(op.create.kind))
			pairs = append(pairs, kvPair{bucket: bucketVecNS, k: kvKey(s.id, op.ns), v: v})
		case op.drop:
			pairs = append(pairs, kvPair{bucket: bucketVecNS, k: kvKey(s.id, op.ns), del: true},
				kvPair{bucket: bucketVec, k: vecKey(s.id, op.ns, ""), del: true, prefix: true})
		case op.del:
			pairs = append(pairs, kvPair{bucket: bucketVec, k: vecKey(s.id, op.ns, op.id), del: true})
		default:
			v := make([]byte, 0, 4*len(op.vec))
			for _, x := range op.vec {
				v = binary.LittleEndian.AppendUint32(v, math.Float32bits(x))
			}
			pairs = append(pairs, kvPair{bucket: bucketVec, k: vecKey(s.id, op.ns, op.id), v: v})
		}
	}
	pos := binary.BigEndian.AppendUint64(make([]byte, 0, 16), s.term)
	pos = binary.BigEndian.AppendUint64(pos, s.index)
	pairs = append(pairs, kvPair{bucket: bucketShards, k: binary.BigEndian.AppendUint32(nil, s.id), v: pos})
	if sk, ok := st.c.sessionKeyOf(idemKey); ok {
		pairs = st.sessionPairs(pairs, sk, s.id, fp, res, now)
	} else if idemKey != "" {
		k := binary.BigEndian.AppendUint64(make([]byte, 0, 12+len(idemKey)), uint64(st.wall+now))
		k = binary.BigEndian.AppendUint32(k, s.id)
		k = append(k, idemKey...)
		pairs = append(pairs, kvPair{bucket: bucketIdem, k: k, v: appendAnswer(make([]byte, 0, 25), fp, res)})
	}
	fn := func(tx *bolt.Tx) error {
		for _, p := range pairs {
			b := tx.Bucket(p.bucket)
			var err error
			switch {
			case p.upto != nil:
				err = deleteRange(b, p.k, p.upto)
			case p.prefix:
				cur := b.Cursor()
				for k, _ := cur.Seek(p.k); k != nil && bytes.HasPrefix(k, p.k); k, _ = cur.Next() {
					if err = cur.Delete(); err != nil {
						break
					}
				}
			case p.del:
				err = b.Delete(p.k)
			default:
				err = b.Put(p.k, p.v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if st.mode == SyncBatch {
		return st.db.Batch(fn)
	}
	return st.db.Update(fn)
}

// prune forgets stored idempotency entries older than ttl (the cache has
// forgotten them already). Called by the reaper.
func (st *store) prune(ttl, now int64) error {
	cut := binary.BigEndian.AppendUint64(nil, uint64(st.wall+now-ttl))
	var old bool
	_ = st.db.View(func(tx *bolt.Tx) error { // the callback cannot fail
		k, _ := tx.Bucket(bucketIdem).Cursor().First()
		old = k != nil && bytes.Compare(k, cut) < 0
		return nil
	})
	if !old {
		return nil
	}
	return st.db.Update(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketIdem).Cursor()
		for k, _ := cur.First(); k != nil && bytes.Compare(k, cut) < 0; k, _ = cur.Next() {
			if err := cur.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// storageFailed answers every call once a write could not be made durable:
// the memory state may then hold a write the disk does not, so the
// cluster stops serving rather than show or acknowledge it.
func (c *Cluster) storageFailed() error {
	if err := c.storeErr.Load(); err != nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("storage failed, the server no longer serves (restart it): %w", *err))
	}
	return nil
}

// persistFailed handles a write that could not be made durable: the
// cluster stops serving, and the call is aborted unanswered (the client
// sees a broken connection, never an acknowledgement). Caller holds s.mu,
// which this unlocks.
func (c *Cluster) persistFailed(s *shard, idemKey string, err error) {
	if c.storeErr.CompareAndSwap(nil, &err) && !c.isClosed() {
		c.cfg.Logger.Error("norikv storage write failed; no longer serving", "err", err)
	}
	c.abandon(s, idemKey)
	panic(http.ErrAbortHandler)
}

// saveEpoch records the epoch of a view about to be published, before
// any client can see it. Caller holds topoMu. A failure is logged: it
// costs clients that outlive a restart some NOT_LEADER redirects, nothing
// more.
func (st *store) saveEpoch(c *Cluster) {
	err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyEpoch, binary.BigEndian.AppendUint64(nil, c.epoch))
	})
	if err != nil && !c.isClosed() {
		c.cfg.Logger.Warn("norikv: storing the view epoch", "err", err)
	}
}

// closeStore closes the data dir, after every node stopped.
func (c *Cluster) closeStore() {
	if c.store != nil {
		c.store.db.Close()
	}
}
