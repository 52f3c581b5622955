// Package prometheus measures a metric with a Prometheus instant query. A vector
// becomes a list of numbers (the result Argo Rollouts' conditions expect, e.g.
// result[0] < 5), a scalar a number; an empty vector is "no data" (a nil list), which
// the caller must treat as inconclusive.
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/utils/clock"
)

// DefaultTimeout bounds a query when the definition gives none.
const DefaultTimeout = 30 * time.Second

// Client runs one query against one server.
type Client struct {
	api     v1.API
	address string
	query   string
	timeout time.Duration
	clock   clock.PassiveClock
}

// New makes a client for address (http or https) and query.
func New(address, query string, timeout time.Duration, clk clock.PassiveClock) (*Client, error) {
	c, err := api.NewClient(api.Config{Address: address})
	if err != nil {
		return nil, fmt.Errorf("prometheus address %s: %w", redact(address), err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{api: v1.NewAPI(c), address: address, query: query, timeout: timeout, clock: clk}, nil
}

// Query runs the instant query now. It returns []float64 for a vector (nil when it is
// empty), float64 for a scalar, and an error naming the cause for bad PromQL (HTTP
// 400), an execution error (422) or an unreachable server.
func (c *Client) Query(ctx context.Context) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, _, _, err := c.api.Query(ctx, c.query, c.clock.Now(), v1.WithTimeout(c.timeout))
	if err != nil {
		return nil, c.explain(err)
	}
	switch val := v.(type) {
	case model.Vector:
		if len(val) == 0 {
			return nil, nil
		}
		out := make([]float64, 0, len(val))
		for _, s := range val {
			out = append(out, float64(s.Value))
		}
		return out, nil
	case *model.Scalar:
		return float64(val.Value), nil
	default:
		return nil, fmt.Errorf("prometheus query %q returned a %s; use a query that returns an instant vector or a scalar", c.query, v.Type())
	}
}

func (c *Client) explain(err error) error {
	var perr *v1.Error
	if errors.As(err, &perr) {
		switch perr.Type {
		case v1.ErrBadData:
			return fmt.Errorf("prometheus at %s refused query %q as bad PromQL: %s", redact(c.address), c.query, perr.Msg)
		case v1.ErrExec:
			return fmt.Errorf("prometheus at %s could not execute query %q: %s", redact(c.address), c.query, perr.Msg)
		}
		return fmt.Errorf("prometheus at %s, query %q: %s: %s", redact(c.address), c.query, perr.Type, perr.Msg)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("prometheus at %s is unreachable: %w", redact(c.address), uerr.Err)
	}
	return fmt.Errorf("prometheus at %s, query %q: %w", redact(c.address), c.query, err)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable address)"
	}
	return u.Scheme + "://" + u.Host
}
