package rollout

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NotDeployments are the consumers among items that a blue-green rotation cannot move:
// only a Deployment has a green copy.
func NotDeployments(items []Item) []string {
	var out []string
	for _, it := range items {
		if it.Consumer.Kind != "Deployment" {
			out = append(out, it.Consumer.String())
		}
	}
	return out
}

// AutoscaledDeployments refuses a blue-green rotation of Deployments that a
// HorizontalPodAutoscaler scales. A blue-green rotation sets the replicas of the blue
// Deployment and its green copy step by step; an autoscaler on the blue one would set
// them back at its next sync (every 15 s by default), so the steps would not hold the
// shares they claim, and raising its minReplicas for the rotation would make it scale
// blue back up at every step. So rotor refuses, says which autoscaler, and what to do
// instead: a rolling rotation (the autoscaler keeps working through a Deployment's own
// rolling update), or remove the autoscaler for the rotation.
func AutoscaledDeployments(ctx context.Context, client kubernetes.Interface, items []Item) error {
	byNamespace := map[string]map[string]bool{}
	for _, it := range items {
		if byNamespace[it.Consumer.Namespace] == nil {
			byNamespace[it.Consumer.Namespace] = map[string]bool{}
		}
		byNamespace[it.Consumer.Namespace][it.Consumer.Name] = true
	}
	var problems []string
	for ns, names := range byNamespace {
		hpas, err := client.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("checking for HorizontalPodAutoscalers in namespace %q before a blue-green rotation: %w", ns, err)
		}
		for _, h := range hpas.Items {
			ref := h.Spec.ScaleTargetRef
			if ref.Kind == "Deployment" && names[ref.Name] {
				problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler %s/%s scales Deployment/%s: a blue-green rotation sets its replicas step by step and the autoscaler would undo each step; use the rolling strategy (the autoscaler keeps working through the rolling update), or remove the autoscaler for the rotation and restore it afterwards",
					ns, h.Name, ref.Name))
			}
		}
	}
	if len(problems) > 0 {
		return &PlanError{Problems: problems}
	}
	return nil
}
