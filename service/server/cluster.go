package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crunchsvc/crunch/service/cluster"
)

// The cluster as this node sees it, for info, /v1/status and /metrics
// (Config.Cluster; nothing outside a cluster).

// clusterInfo is info's and /v1/status's "cluster" member.
type clusterInfo struct {
	Node  string               `json:"node"`  // this node's name
	Nodes []cluster.NodeStatus `json:"nodes"` // every node heard from lately, this one first
}

// clusterNow is the cluster's state, or nil outside a cluster.
func (s *Server) clusterNow() *clusterInfo {
	if s.cfg.Cluster == nil {
		return nil
	}
	return &clusterInfo{Node: s.cfg.Cluster.Name(), Nodes: s.cfg.Cluster.Nodes()}
}

// clusterCollector exports the cluster's nodes and this node's counts.
type clusterCollector struct{ n *cluster.Node }

var (
	clusterSlotsDesc = prometheus.NewDesc("crunch_cluster_node_slots",
		"Cluster slots of each node heard from lately (this one included).", []string{"node"}, nil)
	clusterBusyDesc = prometheus.NewDesc("crunch_cluster_node_busy",
		"Cluster slots taken on each node, as its last status said.", []string{"node"}, nil)
	clusterSentDesc = prometheus.NewDesc("crunch_cluster_jobs_sent_total",
		"exec=cluster jobs this node was the origin of, by the node that ran them (this one for those it ran itself).", []string{"node"}, nil)
	clusterRanDesc = prometheus.NewDesc("crunch_cluster_jobs_run_total",
		"Jobs this node took from the cluster, by the node the request came to.", []string{"origin"}, nil)
	clusterBytesDesc = prometheus.NewDesc("crunch_cluster_transfer_bytes_total",
		"Bytes of jobs, results and progress this node sent to other nodes or received from them.", []string{"direction"}, nil)
	clusterSecondsDesc = prometheus.NewDesc("crunch_cluster_transfer_seconds_total",
		"Time spent moving them: publishing (sent, acknowledged parts of large ones included) and from the first part of a large one to its last (received).", []string{"direction"}, nil)
)

// Describe sends the descriptors of every metric Collect sends.
func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{clusterSlotsDesc, clusterBusyDesc, clusterSentDesc, clusterRanDesc, clusterBytesDesc, clusterSecondsDesc} {
		ch <- d
	}
}

// Collect reads the node's state now.
func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	for _, nd := range c.n.Nodes() {
		ch <- prometheus.MustNewConstMetric(clusterSlotsDesc, prometheus.GaugeValue, float64(nd.Slots), nd.Name)
		ch <- prometheus.MustNewConstMetric(clusterBusyDesc, prometheus.GaugeValue, float64(nd.Busy), nd.Name)
	}
	st := c.n.Stats()
	for node, v := range st.Sent {
		ch <- prometheus.MustNewConstMetric(clusterSentDesc, prometheus.CounterValue, float64(v), node)
	}
	for origin, v := range st.Ran {
		ch <- prometheus.MustNewConstMetric(clusterRanDesc, prometheus.CounterValue, float64(v), origin)
	}
	ch <- prometheus.MustNewConstMetric(clusterBytesDesc, prometheus.CounterValue, float64(st.SentBytes), "sent")
	ch <- prometheus.MustNewConstMetric(clusterBytesDesc, prometheus.CounterValue, float64(st.ReceivedBytes), "received")
	ch <- prometheus.MustNewConstMetric(clusterSecondsDesc, prometheus.CounterValue, st.SentSeconds, "sent")
	ch <- prometheus.MustNewConstMetric(clusterSecondsDesc, prometheus.CounterValue, st.ReceivedSeconds, "received")
}
