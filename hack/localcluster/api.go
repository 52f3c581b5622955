package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

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
	if err := a.waitEstablished(ctx, []string{"stages.kwok.x-k8s.io"}); err != nil {
		return fmt.Errorf("waiting for the Stage CRD: %w", err)
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

// ready checks a component's readiness endpoint with the client it names.
func (a *apiClient) ready(ctx context.Context, r readiness) error {
	c := a.plain
	switch r.Client {
	case "admin":
		c = a.client
	case "insecure":
		c = a.insecure
	}
	return httpOK(ctx, c, r.URL)
}

// waitEstablished watches CustomResourceDefinitions until every named one is
// Established (a watch, not a poll: the API server sends each change).
func (a *apiClient) waitEstablished(ctx context.Context, names []string) error {
	pending := map[string]bool{}
	for _, n := range names {
		pending[n] = true
	}
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w; not yet established: %v", err, keys(pending))
		}
		// A watch without resourceVersion first sends every existing object; a watch the
		// server ends (its timeout) is simply opened again.
		err := a.watch(ctx, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", func(obj json.RawMessage) bool {
			var crd struct {
				Metadata struct{ Name string } `json:"metadata"`
				Status   struct {
					Conditions []struct{ Type, Status string } `json:"conditions"`
				} `json:"status"`
			}
			if json.Unmarshal(obj, &crd) != nil {
				return false
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == "Established" && c.Status == "True" {
					delete(pending, crd.Metadata.Name)
				}
			}
			return len(pending) == 0
		})
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// watch streams the watch events of a collection to fn until fn returns true, the
// server ends the watch, or ctx ends.
func (a *apiClient) watch(ctx context.Context, path string, fn func(obj json.RawMessage) bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.server+path+"?watch=1&allowWatchBookmarks=false", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("watch %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if ev.Type == "ERROR" {
			return fmt.Errorf("watch %s: %s", path, ev.Object)
		}
		if fn(ev.Object) {
			return nil
		}
	}
}

// apply server-side-applies one object (as JSON) with the field manager "localcluster".
func (a *apiClient) apply(ctx context.Context, obj map[string]any) error {
	path, err := objectPath(obj)
	if err != nil {
		return err
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, a.server+path+"?fieldManager=localcluster&force=true", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/apply-patch+yaml")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("applying %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(out)))
	}
	return nil
}

// objectPath is the REST path of the few kinds addons install: CRDs and Namespaces.
func objectPath(obj map[string]any) (string, error) {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	kind, _ := obj["kind"].(string)
	switch {
	case name == "":
		return "", fmt.Errorf("an object of kind %q has no name", kind)
	case kind == "CustomResourceDefinition":
		return "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + name, nil
	case kind == "Namespace":
		return "/api/v1/namespaces/" + name, nil
	}
	return "", fmt.Errorf("localcluster does not install objects of kind %q (%s)", kind, name)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
