{{/* Names, labels and shared fragments. */}}

{{- define "multinet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resource name prefix: the release name, plus the chart name unless the release name contains it. */}}
{{- define "multinet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The namespace of every namespaced object. */}}
{{- define "multinet.namespace" -}}
{{- default .Release.Namespace .Values.namespace }}
{{- end }}

{{- define "multinet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "multinet.labels" -}}
helm.sh/chart: {{ include "multinet.chart" . }}
app.kubernetes.io/name: {{ include "multinet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: multinet
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component: (dict "root" $ "component" "controller"). */}}
{{- define "multinet.componentLabels" -}}
{{ include "multinet.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "multinet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "multinet.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The ServiceAccount name of a component: (dict "root" $ "component" "controller"). */}}
{{- define "multinet.serviceAccountName" -}}
{{- $sa := (index .root.Values .component).serviceAccount }}
{{- if $sa.create }}
{{- default (printf "%s-%s" (include "multinet.fullname" .root) .component) $sa.name }}
{{- else }}
{{- required (printf "%s.serviceAccount.name is required when %s.serviceAccount.create is false" .component .component) $sa.name }}
{{- end }}
{{- end }}

{{- define "multinet.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "multinet.webhookName" -}}
{{- printf "%s-webhook" (include "multinet.fullname" .) }}
{{- end }}

{{- define "multinet.webhookSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "multinet.fullname" .)) .Values.webhook.certs.secretName }}
{{- end }}

{{- define "multinet.leaseName" -}}
{{- default (printf "%s-controller" (include "multinet.fullname" .)) .Values.controller.leaderElection.leaseName }}
{{- end }}

{{/* Namespaces the webhook never validates: kube-system, the chart's own, and webhook.excludedNamespaces. */}}
{{- define "multinet.excludedNamespaces" -}}
{{- concat (list "kube-system" (include "multinet.namespace" .)) .Values.webhook.excludedNamespaces | uniq | toJson }}
{{- end }}

{{/* Flags the agents and the webhook share, from .Values.networks (the webhook takes no --cluster-network). */}}
{{- define "multinet.policyArgs" -}}
{{- $n := .Values.networks }}
{{- if $n.namespaceIsolation }}
- --namespace-isolation
{{- end }}
{{- with $n.globalNamespaces }}
- --global-namespaces={{ join "," . }}
{{- end }}
{{- with $n.defaultNetworks }}
- --default-networks={{ join "," . }}
{{- end }}
- --system-namespaces={{ join "," $n.systemNamespaces }}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
{{- end }}

{{- define "multinet.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with .Values.kubernetesServiceHost }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kubernetesServicePort }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Pull secrets and scheduling fields of a component's pod spec: (dict "root" $ "values" .Values.controller),
with "spread" "controller" for a Deployment whose replicas prefer different nodes when it sets no affinity.
*/}}
{{- define "multinet.podCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.affinity }}
affinity:
  {{- toYaml .values.affinity | nindent 2 }}
{{- else if .spread }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "multinet.selectorLabels" (dict "root" .root "component" .spread) | nindent 14 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
