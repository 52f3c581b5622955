package kinds

import (
	"context"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/rotor-project/rotor/internal/secretref"
)

// custom are the kinds of CRDs that may or may not be installed, listed with the
// dynamic client (JSON: CRDs have no protobuf). A kind whose API the cluster does not
// serve is skipped.
func custom() []*Kind {
	return []*Kind{
		{Kind: "Rollout", Group: "argoproj.io", Versions: []string{"v1alpha1"}, Resource: "rollouts", Namespaced: true,
			Aliases: []string{"rollout", "rollouts", "ro"}, PodSpec: "spec.template.spec",
			Repoint: Patch, Rolls: true, Effect: "rolls out its pods through its strategy's steps", Judge: RolloutState,
			Pods: specSelector, TemplateFrom: workloadRef,
			Describe: func(u *unstructured.Unstructured) Info { return Info{CurrentRevision: annotationRevision(u)} }},
		{Kind: "AnalysisTemplate", Group: "argoproj.io", Versions: []string{"v1alpha1"}, Resource: "analysistemplates", Namespaced: true,
			Aliases: []string{"analysistemplate", "analysistemplates"}, Repoint: Patch,
			Effect: "takes effect at the next analysis run", Judge: JudgeAtOnce, refs: secretref.AnalysisArgs(false)},
		{Kind: "ClusterAnalysisTemplate", Group: "argoproj.io", Versions: []string{"v1alpha1"}, Resource: "clusteranalysistemplates",
			Aliases: []string{"clusteranalysistemplate", "clusteranalysistemplates"}, Repoint: Patch,
			Effect: "takes effect at the next analysis run, in every namespace", Judge: JudgeAtOnce, refs: secretref.AnalysisArgs(true)},
		{Kind: "AnalysisRun", Group: "argoproj.io", Versions: []string{"v1alpha1"}, Resource: "analysisruns", Namespaced: true,
			Aliases: []string{"analysisrun", "analysisruns"}, Repoint: NotAConsumer,
			Effect: "an analysis run keeps the arguments it started with", Judge: JudgeAtOnce, refs: secretref.AnalysisArgs(false),
			Describe: describeAnalysisRun},
		{Kind: "ExternalSecret", Group: "external-secrets.io", Versions: []string{"v1", "v1beta1"}, Resource: "externalsecrets", Namespaced: true,
			Aliases: []string{"externalsecret", "externalsecrets", "es"}, Repoint: NotAConsumer,
			Effect: "an ExternalSecret writes its target Secret: it is not re-pointed", Judge: JudgeAtOnce, refs: secretref.ExternalSecret},
		{Kind: "Gateway", Group: "gateway.networking.k8s.io", Versions: []string{"v1", "v1beta1"}, Resource: "gateways", Namespaced: true,
			Aliases: []string{"gateway", "gateways", "gtw"}, Repoint: Patch, Effect: "takes effect at once",
			Judge: JudgeAtOnce, refs: secretref.Gateway, GrantedFrom: gatewayGrants},
	}
}

// workloadRef is the Deployment an Argo Rollout takes its pod template from.
func workloadRef(u *unstructured.Unstructured) (string, string, bool) {
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "workloadRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "workloadRef", "name")
	return kind, name, kind != "" && name != ""
}

func describeAnalysisRun(u *unstructured.Unstructured) Info {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	switch phase {
	case "Successful", "Failed", "Error", "Inconclusive":
		return Info{Finished: true}
	}
	return Info{}
}

// referenceGrants are the Gateway API ReferenceGrants, newest version first.
var referenceGrants = []schema.GroupVersionResource{
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "referencegrants"},
	{Group: "gateway.networking.k8s.io", Version: "v1beta1", Resource: "referencegrants"},
}

// gatewayGrants are the namespaces whose Gateways the ReferenceGrants of ns allow to
// name its Secrets: without such a grant a Gateway controller refuses a cross-namespace
// certificateRef, so these are the only other namespaces to read.
func gatewayGrants(ctx context.Context, dyn dynamic.Interface, ns string) ([]string, error) {
	for _, gvr := range referenceGrants {
		l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			continue // this version (or the kind) is not served
		}
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, g := range l.Items {
			if !grantsSecrets(g.Object) {
				continue
			}
			from, _, _ := unstructured.NestedSlice(g.Object, "spec", "from")
			for _, f := range from {
				m, _ := f.(map[string]any)
				if m["group"] == "gateway.networking.k8s.io" && m["kind"] == "Gateway" {
					if other, _ := m["namespace"].(string); other != "" && other != ns {
						seen[other] = true
					}
				}
			}
		}
		out := make([]string, 0, len(seen))
		for n := range seen {
			out = append(out, n)
		}
		sort.Strings(out)
		return out, nil
	}
	return nil, nil
}

// grantsSecrets reports whether a ReferenceGrant's spec.to allows Secrets.
func grantsSecrets(obj map[string]any) bool {
	to, _, _ := unstructured.NestedSlice(obj, "spec", "to")
	for _, t := range to {
		m, _ := t.(map[string]any)
		if g, _ := m["group"].(string); g == "" && m["kind"] == "Secret" {
			return true
		}
	}
	return false
}
