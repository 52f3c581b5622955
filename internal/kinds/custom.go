package kinds

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
			Judge: JudgeAtOnce, refs: secretref.Gateway},
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
