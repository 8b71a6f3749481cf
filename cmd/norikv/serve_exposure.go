package main

import (
	"fmt"
	"net"
	"strings"
)

// checkExposure is serve's rule for --host: listening beyond loopback
// without --token is refused (exit 2) unless --insecure says it is meant,
// and then a warning is printed on every start.
//
// Refused rather than warned, because a warning scrolls away and the
// server answers every key, the admin RPCs and the console to anyone on
// the network; --insecure keeps the open setup one flag away (a
// container whose published port is the boundary, a lab network).
func checkExposure(o IO, host, token string, insecure bool) error {
	if token != "" || isLoopbackHost(host) {
		return nil
	}
	if !insecure {
		return usagef("--host %s listens beyond loopback, where anyone who can reach the port reads and writes every key: add --token (clients then send it), or --insecure if that is what you want", host)
	}
	fmt.Fprintf(o.Stderr, "WARNING: --host %s --insecure: no token; anyone who can reach these ports reads and writes every key and moves leaders\n", host)
	return nil
}

// isLoopbackHost reports whether host (a name or IP literal) is loopback
// for sure: a loopback IP, or localhost. Any other name may resolve
// anywhere.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
