package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"

	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

func scheme() *runtime.Scheme { return kscheme.Scheme }

// redactedValue replaces every value rotor prints. Only its length is shown.
func redactedValue(n int) string { return fmt.Sprintf("REDACTED (%d bytes)", n) }

// redact returns the Secret as an object whose data values are replaced by their
// length. Values never reach an output stream.
func redact(s *corev1.Secret) runtime.Object {
	c := s.DeepCopy()
	data := map[string]any{}
	for k, v := range c.Data {
		data[k] = redactedValue(len(v))
	}
	for k, v := range c.StringData {
		data[k] = redactedValue(len(v))
	}
	c.Data, c.StringData = nil, nil
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	if err != nil {
		// Cannot happen for a typed Secret; print nothing of the data rather than fail.
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": s.Name, "namespace": s.Namespace}}}
	}
	obj["apiVersion"], obj["kind"] = "v1", "Secret"
	if len(data) > 0 {
		obj["data"] = data
	}
	return &unstructured.Unstructured{Object: obj}
}

// examples renders an Example text with the command's display name, so the help of
// the kubectl plugin says "kubectl rotor".
func examples(name, text string) string {
	var b strings.Builder
	t := template.Must(template.New("example").Parse(strings.TrimSpace(text)))
	if err := t.Execute(&b, name); err != nil {
		return text
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n")
}

// printDocument writes v as indented JSON, or as YAML when format is "yaml": the
// documents of -o json|yaml.
func printDocument(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
	} else {
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}

func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
