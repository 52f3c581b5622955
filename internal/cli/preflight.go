package cli

import (
	"context"
	"errors"

	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/access"
	"github.com/rotor-project/rotor/internal/apiretry"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/rollout"
)

// checkAccess runs the pre-flight permission check, retrying what the API server
// failed to answer for a passing reason; a *access.Problem comes back as is (explain
// adds the hint).
func checkAccess(ctx context.Context, f *factory, client kubernetes.Interface, wants []access.Want) error {
	return access.Checker{Client: client.AuthorizationV1(), Retry: apiretry.Policy{Clock: f.Clock}}.Check(ctx, wants)
}

func isAccessProblem(err error) bool {
	var p *access.Problem
	return errors.As(err, &p)
}

// rotationWants are the permissions a rotation of plan needs, every write and watch
// it will make: the lock and the record in each namespace, a patch per consumer, the
// watches that wait for health, and for blue-green the green copies.
func rotationWants(plan *rollout.Plan, bluegreen bool) []access.Want {
	var wants []access.Want
	for _, ns := range plan.Namespaces() {
		wants = append(wants, journalWants(ns)...)
	}
	return append(wants, consumerWants(plan, bluegreen)...)
}

// journalWants are the permissions of a rotation in namespace ns whatever its
// consumers: the family's lock and the journal.
func journalWants(ns string) []access.Want {
	var wants []access.Want
	for _, verb := range []string{"get", "create", "update", "delete"} {
		wants = append(wants, access.Want{Verb: verb, Group: "coordination.k8s.io", Resource: "leases", Namespace: ns, Why: "hold the family's rotation lock"})
	}
	for _, verb := range []string{"list", "create", "update"} {
		wants = append(wants, access.Want{Verb: verb, Resource: "configmaps", Namespace: ns, Why: "journal the rotation"})
	}
	return wants
}

// consumerWants are the permissions the consumers of plan need moved: a patch per
// consumer, the watches that wait for health, and for blue-green the green copies.
func consumerWants(plan *rollout.Plan, bluegreen bool) []access.Want {
	var wants []access.Want
	for _, it := range plan.Active() {
		c := it.Consumer
		k := kinds.Lookup(c.Kind)
		if k == nil {
			continue
		}
		gvr := k.GVR()
		why := "re-point " + c.Kind + "/" + c.Name
		wants = append(wants,
			access.Want{Verb: "get", Group: gvr.Group, Resource: gvr.Resource, Namespace: c.Namespace, Why: why},
			access.Want{Verb: "patch", Group: gvr.Group, Resource: gvr.Resource, Namespace: c.Namespace, Why: why})
		if !k.Rolls {
			continue
		}
		wait := "wait for " + c.Kind + "/" + c.Name + " to be healthy"
		wants = append(wants,
			access.Want{Verb: "watch", Group: gvr.Group, Resource: gvr.Resource, Namespace: c.Namespace, Why: wait},
			access.Want{Verb: "list", Resource: "pods", Namespace: c.Namespace, Why: wait},
			access.Want{Verb: "watch", Resource: "pods", Namespace: c.Namespace, Why: wait})
		if bluegreen && c.Kind == "Deployment" {
			wants = append(wants, access.Want{Verb: "list", Group: "autoscaling", Resource: "horizontalpodautoscalers", Namespace: c.Namespace, Why: "check that no autoscaler scales Deployment/" + c.Name})
			for _, verb := range []string{"create", "delete"} {
				wants = append(wants, access.Want{Verb: verb, Group: "apps", Resource: "deployments", Namespace: c.Namespace, Why: "run the green copy of Deployment/" + c.Name})
			}
		}
	}
	return wants
}

// throughGit drops the live patches from wants: a rotation through git changes the
// consumers by commits the GitOps engine applies, so it only reads and watches them.
func throughGit(wants []access.Want) []access.Want {
	var out []access.Want
	for _, w := range wants {
		if w.Verb == "patch" {
			continue
		}
		out = append(out, w)
	}
	return out
}
