// Package webtest drives the web console (package web) in headless
// Chromium against an embedded cluster. It is its own module, like bench/,
// so chromedp never enters the library's go.mod; run it with
//
//	cd webtest && go test ./...
//
// TestConsoleLive also measures the server's CPU with one idle page open,
// over 3 s (NORIKV_CONSOLE_CPU_SECONDS=60 for a figure worth quoting).
//
// It needs the chromium binary (Debian package chromium, or NORIKV_CHROMIUM
// naming another Chrome) and fails, not skips, without one: the rest of the
// repository's tests (go test ./... at the root) do not include it.
package webtest
