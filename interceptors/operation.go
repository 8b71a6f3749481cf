package interceptors

import (
	"strings"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

var operations = map[string]string{
	norikvv1connect.KvPutProcedure:              "Put",
	norikvv1connect.KvGetProcedure:              "Get",
	norikvv1connect.KvDeleteProcedure:           "Delete",
	norikvv1connect.VectorCreateIndexProcedure:  "VectorCreateIndex",
	norikvv1connect.VectorDropIndexProcedure:    "VectorDropIndex",
	norikvv1connect.VectorInsertProcedure:       "VectorInsert",
	norikvv1connect.VectorDeleteProcedure:       "VectorDelete",
	norikvv1connect.VectorSearchProcedure:       "VectorSearch",
	norikvv1connect.VectorGetProcedure:          "VectorGet",
	norikvv1connect.MetaWatchClusterProcedure:   "WatchCluster",
	norikvv1connect.AdminTransferShardProcedure: "TransferShard",
	norikvv1connect.AdminSnapshotShardProcedure: "SnapshotShard",
}

// OperationName is the SDK's name for a procedure: "Put" for
// /norikv.v1.Kv/Put, "VectorSearch" for /norikv.v1.Vector/Search.
func OperationName(procedure string) string {
	if op, ok := operations[procedure]; ok {
		return op
	}
	return procedure[strings.LastIndexByte(procedure, '/')+1:]
}
