// Package datadog measures a metric with Datadog's metrics query APIs: v1
// (GET /api/v1/query, the last point of the first series) and v2
// (POST /api/v2/query/scalar, the first value of the first column), as Argo Rollouts'
// Datadog provider does. Keys travel only in the DD-API-KEY and DD-APPLICATION-KEY
// headers; they are never part of an error or a message.
package datadog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/redirect"
)

// DefaultAddress is Datadog's US1 API.
const DefaultAddress = "https://api.datadoghq.com"

// Keys are the credentials and the site to query.
type Keys struct {
	APIKey  string
	AppKey  string
	Address string
}

// Client runs one query.
type Client struct {
	keys       Keys
	query      string
	apiVersion string
	window     time.Duration
	http       *http.Client
	clock      clock.PassiveClock
}

// New makes a client. apiVersion is "v1" or "v2" ("" means v1); window is how far back
// the query looks (default 5m).
func New(keys Keys, query, apiVersion string, window time.Duration, clk clock.PassiveClock) (*Client, error) {
	if keys.APIKey == "" || keys.AppKey == "" {
		return nil, errors.New("datadog keys are missing: set DD_API_KEY and DD_APP_KEY in the environment, or name a Secret with keys api-key and app-key in provider.datadog.secretRef")
	}
	if keys.Address == "" {
		keys.Address = DefaultAddress
	}
	u, err := url.Parse(keys.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("datadog address is not an http(s) URL (check DD_ADDRESS or the Secret's address key)")
	}
	if apiVersion == "" {
		apiVersion = "v1"
	}
	if apiVersion != "v1" && apiVersion != "v2" {
		return nil, fmt.Errorf("datadog apiVersion %q: use v1 or v2", apiVersion)
	}
	if window <= 0 {
		window = 5 * time.Minute
	}
	return &Client{keys: keys, query: query, apiVersion: apiVersion, window: window,
		http: &http.Client{Timeout: 30 * time.Second, CheckRedirect: redirect.Policy}, clock: clk}, nil
}

// Query returns the latest value as float64, or nil when Datadog has no data.
func (c *Client) Query(ctx context.Context) (any, error) {
	now := c.clock.Now()
	var req *http.Request
	var err error
	base := strings.TrimRight(c.keys.Address, "/")
	if c.apiVersion == "v1" {
		q := url.Values{}
		q.Set("from", strconv.FormatInt(now.Add(-c.window).Unix(), 10))
		q.Set("to", strconv.FormatInt(now.Unix(), 10))
		q.Set("query", c.query)
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+q.Encode(), nil)
	} else {
		body, _ := json.Marshal(scalarRequest(c.query, now.Add(-c.window), now))
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v2/query/scalar", bytes.NewReader(body))
		if req != nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("datadog request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("DD-API-KEY", c.keys.APIKey)
	req.Header.Set("DD-APPLICATION-KEY", c.keys.AppKey)
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("datadog at %s is unreachable: %w", c.host(), err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("datadog at %s: reading the response: %w", c.host(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("datadog at %s answered %s for query %q: %s", c.host(), resp.Status, c.query, errorText(b))
	}
	if c.apiVersion == "v1" {
		return parseV1(b)
	}
	return parseV2(b)
}

func (c *Client) host() string {
	u, _ := url.Parse(c.keys.Address)
	return u.Scheme + "://" + u.Host
}

func scalarRequest(query string, from, to time.Time) any {
	return map[string]any{
		"data": map[string]any{
			"type": "scalar_request",
			"attributes": map[string]any{
				"from": from.UnixMilli(),
				"to":   to.UnixMilli(),
				"queries": []any{map[string]any{
					"data_source": "metrics",
					"query":       query,
					"name":        "query",
					"aggregator":  "last",
				}},
				"formulas": []any{map[string]any{"formula": "query"}},
			},
		},
	}
}

type v1Response struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Series []struct {
		Pointlist [][]*float64 `json:"pointlist"`
	} `json:"series"`
}

func parseV1(b []byte) (any, error) {
	var r v1Response
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("datadog v1 response is not the documented JSON: %w", err)
	}
	if r.Status == "error" {
		return nil, fmt.Errorf("datadog v1 query failed: %s", r.Error)
	}
	if len(r.Series) == 0 || len(r.Series[0].Pointlist) == 0 {
		return nil, nil
	}
	pts := r.Series[0].Pointlist
	last := pts[len(pts)-1]
	if len(last) < 2 || last[1] == nil {
		return nil, nil
	}
	return *last[1], nil
}

type v2Response struct {
	Data struct {
		Attributes struct {
			Columns []struct {
				Name   string     `json:"name"`
				Values []*float64 `json:"values"`
			} `json:"columns"`
		} `json:"attributes"`
	} `json:"data"`
	Errors string `json:"errors"`
}

func parseV2(b []byte) (any, error) {
	var r v2Response
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("datadog v2 response is not the documented JSON: %w", err)
	}
	if r.Errors != "" {
		return nil, fmt.Errorf("datadog v2 query failed: %s", r.Errors)
	}
	cols := r.Data.Attributes.Columns
	if len(cols) == 0 || len(cols[0].Values) == 0 || cols[0].Values[0] == nil {
		return nil, nil
	}
	return *cols[0].Values[0], nil
}

func errorText(b []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
		return strings.Join(e.Errors, "; ")
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
