// Command helmfixture stores Helm release revisions the way Helm does, with Helm's own
// storage driver (helm.sh/helm/v4/pkg/storage): a Secret (or, with --driver
// configmap, a ConfigMap) sh.helm.release.v1.<release>.v<revision>, labelled
// owner=helm, holding the release gzipped and base64-encoded. rotor's tests use it to
// make release history without a Helm binary. It is a module of its own so that Helm
// and its dependencies never enter rotor's go.mod.
//
//	helmfixture --kubeconfig K --namespace NS --release web --revision 2 --status superseded \
//	    --manifest manifest.yaml [--values values.yaml] [--driver secret|configmap]
//	helmfixture --out stored.yaml ... (writes the stored object as YAML instead)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/release/common"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helmfixture:", err)
		os.Exit(1)
	}
}

func run() error {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster to store the release in")
	ns := flag.String("namespace", "default", "release namespace")
	name := flag.String("release", "", "release name")
	revision := flag.Int("revision", 1, "release revision")
	status := flag.String("status", string(common.StatusDeployed), "release status: deployed, superseded, failed…")
	manifestFile := flag.String("manifest", "", "file with the rendered manifest (multi-document YAML)")
	valuesFile := flag.String("values", "", "file with the release's user-supplied values (YAML), stored as Helm stores them")
	drv := flag.String("driver", "secret", "storage driver: secret or configmap")
	out := flag.String("out", "", "write the stored object as YAML to this file instead of to a cluster")
	flag.Parse()
	if *name == "" || *manifestFile == "" {
		return fmt.Errorf("--release and --manifest are required")
	}
	manifest, err := os.ReadFile(*manifestFile)
	if err != nil {
		return err
	}
	values := map[string]any{}
	if *valuesFile != "" {
		b, err := os.ReadFile(*valuesFile)
		if err != nil {
			return err
		}
		if err := yaml.Unmarshal(b, &values); err != nil {
			return err
		}
	}
	var client kubernetes.Interface
	if *out != "" {
		client = fake.NewClientset()
	} else {
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			return err
		}
		if client, err = kubernetes.NewForConfig(cfg); err != nil {
			return err
		}
	}
	var d driver.Driver = driver.NewSecrets(client.CoreV1().Secrets(*ns))
	if *drv == "configmap" {
		d = driver.NewConfigMaps(client.CoreV1().ConfigMaps(*ns))
	}
	now := time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	rel := &rspb.Release{
		Name: *name, Namespace: *ns, Version: *revision, Manifest: string(manifest), Config: values,
		Info:  &rspb.Info{FirstDeployed: now, LastDeployed: now, Status: common.Status(*status), Description: "Install complete"},
		Chart: &chart.Chart{Metadata: &chart.Metadata{Name: *name, Version: "1.0.0", APIVersion: "v2"}, Values: values},
	}
	if err := storage.Init(d).Create(rel); err != nil {
		return err
	}
	if *out == "" {
		return nil
	}
	key := fmt.Sprintf("sh.helm.release.v1.%s.v%d", *name, *revision)
	var obj any
	if *drv == "configmap" {
		cm, err := client.CoreV1().ConfigMaps(*ns).Get(context.Background(), key, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		obj = cm
	} else {
		s, err := client.CoreV1().Secrets(*ns).Get(context.Background(), key, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
		obj = s
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o600)
}
