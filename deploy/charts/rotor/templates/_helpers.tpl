{{/* Chart name and full name, as Helm's conventions make them. */}}
{{- define "rotor.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rotor.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rotor.labels" -}}
app.kubernetes.io/name: {{ include "rotor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "rotor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rotor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rotor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rotor.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The rules the controller needs in every namespace it drives: read what can name a
Secret, re-point consumers, run blue-green copies, read versions (metadata and, for
the target version, its key names), write SecretRotation status and events. */}}
{{- define "rotor.rules" -}}
- apiGroups: [rotor.dev]
  resources: [secretrotations]
  verbs: [get, list, watch, patch]
- apiGroups: [rotor.dev]
  resources: [secretrotations/status]
  verbs: [get, update, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [serviceaccounts, replicationcontrollers, podtemplates]
  verbs: [get, list, watch, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, patch, create, delete]
- apiGroups: [apps]
  resources: [statefulsets, daemonsets]
  verbs: [get, list, watch, patch]
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [get, list]
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, list, watch, patch]
- apiGroups: [batch]
  resources: [jobs]
  # create and delete: spec.verify runs a verification Job against the new version.
  verbs: [get, list, watch, create, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  # A blue-green rotation refuses a Deployment an autoscaler scales.
  verbs: [list]
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [get, list, watch, patch]
{{- if .Values.rbac.argoRollouts }}
- apiGroups: [argoproj.io]
  resources: [rollouts, analysistemplates]
  verbs: [get, list, watch, patch]
{{- end }}
{{- if .Values.rbac.gatewayAPI }}
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways]
  verbs: [get, list, watch, patch]
{{- end }}
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
