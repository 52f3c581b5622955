// Package redirect decides what an HTTP request keeps when a server redirects it. Go's
// client drops Authorization and cookies on a redirect to another domain, but copies
// every other header, so a credential in a custom header (X-Api-Key, DD-API-KEY) would
// be sent to whatever host a redirect names. The policy here keeps only a few plain
// headers when the host (or port, or scheme) changes, and refuses a redirect from
// https to http.
package redirect

import (
	"errors"
	"net/http"
)

// maxRedirects is Go's own default.
const maxRedirects = 10

// plain are the headers that never carry credentials.
var plain = map[string]bool{"Accept": true, "Accept-Encoding": true, "Content-Type": true, "User-Agent": true}

// Policy is an http.Client CheckRedirect function.
func Policy(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("refused a redirect from https to plain http")
	}
	if req.URL.Scheme == first.Scheme && req.URL.Host == first.Host {
		return nil
	}
	for k := range req.Header {
		if !plain[http.CanonicalHeaderKey(k)] {
			req.Header.Del(k)
		}
	}
	return nil
}
