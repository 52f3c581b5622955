// Package identity answers "who is calling", as the API server sees it, for the
// created-by annotation of new versions.
package identity

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Who returns the caller's user name from a SelfSubjectReview, which reflects client
// certificates, tokens, exec plugins and impersonation exactly as the API server
// authenticated them. When the review is unavailable (an older server, or a policy
// that forbids it), it returns fallback, typically the kubeconfig's user name.
func Who(ctx context.Context, client kubernetes.Interface, fallback string) string {
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || review.Status.UserInfo.Username == "" {
		return fallback
	}
	return review.Status.UserInfo.Username
}
