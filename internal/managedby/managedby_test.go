package managedby

import "testing"

func TestDetect(t *testing.T) {
	tests := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		want        string
	}{
		{"an Argo CD tracking id names its Application", nil,
			map[string]string{"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:web/api"}, "Argo CD Application shop"},
		{"an Argo CD tracking id of an app in any namespace names it with its namespace", nil,
			map[string]string{"argocd.argoproj.io/tracking-id": "team_shop:apps/Deployment:web/api"}, "Argo CD Application team/shop"},
		{"Argo CD's instance label names its Application", map[string]string{"argocd.argoproj.io/instance": "shop"}, nil, "Argo CD Application shop"},
		{"the common instance label with an Argo CD annotation is Argo CD's label tracking",
			map[string]string{"app.kubernetes.io/instance": "shop"}, map[string]string{"argocd.argoproj.io/sync-wave": "1"}, "Argo CD Application shop"},
		{"the common instance label alone is not taken for Argo CD", map[string]string{"app.kubernetes.io/instance": "shop"}, nil, ""},
		{"a Flux Kustomization's labels name it", map[string]string{"kustomize.toolkit.fluxcd.io/name": "apps",
			"kustomize.toolkit.fluxcd.io/namespace": "flux-system"}, nil, "Flux Kustomization flux-system/apps"},
		{"a Flux HelmRelease wins over the Helm markers it also writes", map[string]string{"helm.toolkit.fluxcd.io/name": "web",
			"helm.toolkit.fluxcd.io/namespace": "shop", "app.kubernetes.io/managed-by": "Helm"},
			map[string]string{"meta.helm.sh/release-name": "shop-web"}, "Flux HelmRelease shop/web"},
		{"Helm's release annotations name the release", map[string]string{"app.kubernetes.io/managed-by": "Helm"},
			map[string]string{"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "shop"}, "Helm release shop/web"},
		{"Helm's managed-by label alone is Helm", map[string]string{"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "web"}, nil, "Helm release web"},
		{"another managed-by value is nobody rotor knows", map[string]string{"app.kubernetes.io/managed-by": "rotor"}, nil, ""},
		{"no markers is unmanaged", map[string]string{"app": "web"}, map[string]string{"note": "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if o := Detect(tt.labels, tt.annotations); o != nil {
				got = o.String()
			}
			if got != tt.want {
				t.Fatalf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}
