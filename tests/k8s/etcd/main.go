// Command etcd runs a single-member etcd for keelson's real-API-server tests, embedded
// from go.etcd.io/etcd/server/v3 at the version k8s.io/kubernetes pins (see ../go.mod),
// so the store is the one that release of kube-apiserver is tested with upstream.
//
//	etcd -data-dir DIR -client-url http://127.0.0.1:PORT -peer-url http://127.0.0.1:PORT
package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "directory for etcd's data")
	client := flag.String("client-url", "", "URL to serve clients on (loopback)")
	peer := flag.String("peer-url", "", "URL to serve peers on (loopback)")
	flag.Parse()
	cu, err := url.Parse(*client)
	if err != nil || *dataDir == "" {
		log.Fatalf("etcd: need -data-dir and a valid -client-url (got %q)", *client)
	}
	pu, err := url.Parse(*peer)
	if err != nil {
		log.Fatalf("etcd: bad -peer-url %q: %v", *peer, err)
	}
	cfg := embed.NewConfig()
	cfg.Dir = *dataDir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	cfg.LogLevel = "warn"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("etcd: start: %v", err)
	}
	defer e.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-e.Server.ReadyNotify():
		log.Printf("etcd: serving clients on %s", cu)
	case err := <-e.Err():
		log.Fatalf("etcd: %v", err)
	case <-stop:
		return
	}
	select {
	case err := <-e.Err():
		log.Fatalf("etcd: %v", err)
	case <-stop:
	}
}
