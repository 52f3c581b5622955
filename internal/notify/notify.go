// Package notify posts a JSON message to a webhook. The body has a "text" field, which
// is what Slack-style incoming webhooks display; the other fields are for receivers
// that want structure. A webhook URL is a credential (Slack's carries its token in the
// path), so errors name only its scheme and host.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rotor-project/rotor/internal/redirect"
)

// Message is the JSON body.
type Message struct {
	Text      string `json:"text"`
	Family    string `json:"family,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Version   string `json:"version,omitempty"`
	Phase     string `json:"phase,omitempty"`
}

// Webhook posts to one URL.
type Webhook struct {
	URL    string
	Client *http.Client
}

// Check says what is wrong with a webhook URL, without repeating it.
func Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("the notify URL is not an http(s) URL")
	}
	return nil
}

// Host is the URL's scheme and host, safe to print.
func Host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

// Post sends m and expects a 2xx answer.
func (w Webhook) Post(ctx context.Context, m Message) error {
	if err := Check(w.URL); err != nil {
		return err
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	if c.CheckRedirect == nil {
		cc := *c
		cc.CheckRedirect = redirect.Policy
		c = &cc
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notifying %s: cannot build the request", Host(w.URL))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("notifying %s: %w", Host(w.URL), err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notifying %s: the webhook answered %s", Host(w.URL), resp.Status)
	}
	return nil
}
