// Package web measures a metric from any JSON endpoint: it sends a request (GET by
// default) with the configured headers and picks a value with a Kubernetes-style
// JSONPath expression such as {$.data.errorRate}, as Argo Rollouts' web provider does.
// No match, or a JSON null, is "no data". Header values may hold credentials: they
// are never part of an error or a message, and neither is the URL's path or query
// string; a redirect to another host drops them (see package redirect).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/util/jsonpath"

	"github.com/rotor-project/rotor/internal/redirect"
)

// Header is one request header.
type Header struct{ Key, Value string }

// Client reads one endpoint.
type Client struct {
	url     string
	method  string
	headers []Header
	path    *jsonpath.JSONPath
	http    *http.Client
}

// New makes a client; jsonPath "" takes the whole document.
func New(rawURL, method, jsonPath string, headers []Header, timeout time.Duration) (*Client, error) {
	if method == "" {
		method = http.MethodGet
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &Client{url: rawURL, method: strings.ToUpper(method), headers: headers, http: &http.Client{Timeout: timeout, CheckRedirect: redirect.Policy}}
	if jsonPath != "" {
		p := jsonpath.New("metric")
		if err := p.Parse(jsonPath); err != nil {
			return nil, fmt.Errorf("jsonPath %q does not parse: %w (write it like {$.data.value})", jsonPath, err)
		}
		c.path = p
	}
	return c, nil
}

// Query fetches the document and returns the selected value (float64, string, bool,
// map or list as decoded from JSON), or nil when nothing matches.
func (c *Client) Query(ctx context.Context) (any, error) {
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, nil)
	if err != nil {
		return nil, fmt.Errorf("web request to %s: %w", c.where(), err)
	}
	req.Header.Set("Accept", "application/json")
	for _, h := range c.headers {
		req.Header.Set(h.Key, h.Value)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("web endpoint %s is unreachable: %w", c.where(), err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("web endpoint %s: reading the response: %w", c.where(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("web endpoint %s answered %s", c.where(), resp.Status)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("web endpoint %s did not return JSON: %w", c.where(), err)
	}
	if c.path == nil {
		return doc, nil
	}
	results, err := c.path.FindResults(doc)
	if err != nil {
		if strings.Contains(err.Error(), "is not found") {
			return nil, nil
		}
		return nil, fmt.Errorf("web endpoint %s: jsonPath: %w", c.where(), err)
	}
	if len(results) == 0 || len(results[0]) == 0 {
		return nil, nil
	}
	if len(results[0]) == 1 {
		return results[0][0].Interface(), nil
	}
	out := make([]any, 0, len(results[0]))
	for _, r := range results[0] {
		out = append(out, r.Interface())
	}
	return out, nil
}

// where names the endpoint without credentials: scheme and host only (a path may carry
// a token, as webhook URLs do).
func (c *Client) where() string {
	u, err := url.Parse(c.url)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}
