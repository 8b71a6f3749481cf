// Package webtest drives the web console (package web) in headless
// Chromium against an embedded cluster. It is its own module, like bench/,
// so chromedp never enters the library's go.mod; run it with
//
//	cd webtest && go test ./...
//
// It needs the chromium binary (Debian package chromium, or NORIKV_CHROMIUM
// naming another Chrome) and fails, not skips, without one: the rest of the
// repository's tests (go test ./... at the root) do not include it.
package webtest
