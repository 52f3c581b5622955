package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// apiClient is the little REST the bootstrap needs: readiness checks and creating a
// handful of objects. It deliberately avoids client-go so this module stays small.
type apiClient struct {
	server   string
	client   *http.Client // admin client certificate, verifies the API server
	insecure *http.Client // for the components' self-signed /healthz endpoints
	plain    *http.Client // for etcd over plain HTTP on loopback
}

func newAPIClient(server string, p pki) (*apiClient, error) {
	caPEM, err := os.ReadFile(p.CACert())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(p.AdminCert(), p.AdminKey())
	if err != nil {
		return nil, err
	}
	return &apiClient{
		server: server,
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		}}},
		insecure: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // loopback health checks of throw-away components
		}}},
		plain: &http.Client{},
	}, nil
}

func httpOK(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func (a *apiClient) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.server+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// create POSTs an object; an existing one is fine.
func (a *apiClient) create(ctx context.Context, path string, obj any) error {
	code, out, err := a.do(ctx, http.MethodPost, path, obj)
	if err != nil {
		return err
	}
	if code != http.StatusCreated && code != http.StatusOK && code != http.StatusConflict {
		return fmt.Errorf("POST %s: HTTP %d: %s", path, code, strings.TrimSpace(string(out)))
	}
	return nil
}

func (a *apiClient) exists(ctx context.Context, path string) error {
	code, out, err := a.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", path, code, strings.TrimSpace(string(out)))
	}
	return nil
}

// installStages creates kwok's Stage CRD, waits until it is established, and creates the
// default stages as Stage objects, so tests can add their own stages at run time.
func (a *apiClient) installStages(ctx context.Context, crdFile, stagesFile string) error {
	crdYAML, err := os.ReadFile(crdFile)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(crdYAML, &crd); err != nil {
		return fmt.Errorf("parsing %s: %w", crdFile, err)
	}
	if err := a.create(ctx, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd); err != nil {
		return err
	}
	for {
		code, out, err := a.do(ctx, http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/stages.kwok.x-k8s.io", nil)
		if err == nil && code == http.StatusOK && established(out) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the Stage CRD: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	stagesYAML, err := os.ReadFile(stagesFile)
	if err != nil {
		return err
	}
	for _, doc := range strings.Split(string(stagesYAML), "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return fmt.Errorf("parsing a stage: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		if err := a.create(ctx, "/apis/kwok.x-k8s.io/v1alpha1/stages", obj); err != nil {
			return err
		}
	}
	return nil
}

func established(crdJSON []byte) bool {
	var crd struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(crdJSON, &crd) != nil {
		return false
	}
	for _, c := range crd.Status.Conditions {
		if c.Type == "Established" && c.Status == "True" {
			return true
		}
	}
	return false
}

// createNode registers a fake node that kwok manages (selected by annotation). It has
// no taint, so workloads need no toleration, and room for many pods.
func (a *apiClient) createNode(ctx context.Context, name string) error {
	resources := map[string]string{"cpu": "1000", "memory": "4Ti", "pods": "100000"}
	node := map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata": map[string]any{
			"name":        name,
			"annotations": map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			"labels": map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok",
			},
		},
		"status": map[string]any{"allocatable": resources, "capacity": resources},
	}
	return a.create(ctx, "/api/v1/nodes", node)
}

func (a *apiClient) nodeReady(ctx context.Context, name string) error {
	code, out, err := a.do(ctx, http.MethodGet, "/api/v1/nodes/"+name, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET node %s: HTTP %d", name, code)
	}
	var node struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &node); err != nil {
		return err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == "Ready" && c.Status == "True" {
			return nil
		}
	}
	return fmt.Errorf("node %s is not Ready yet", name)
}
