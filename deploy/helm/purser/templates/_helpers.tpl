{{- define "purser.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "purser.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "purser.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "purser.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "purser.selectorLabels" -}}
app.kubernetes.io/name: {{ include "purser.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "purser.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "purser.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "purser.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "purser.configSecretsNamespace" -}}
{{- default .Release.Namespace .Values.configSecrets.namespace }}
{{- end }}

{{/* The config file: the inline config with listen, workers and the Secrets source filled in. */}}
{{- define "purser.config" -}}
{{- $cfg := deepCopy (default (dict) .Values.config) }}
{{- if not (hasKey $cfg "listen") }}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%v" .Values.service.port) }}
{{- end }}
{{- if and (not (hasKey $cfg "workers")) .Values.workers }}
{{- $_ := set $cfg "workers" (int .Values.workers) }}
{{- end }}
{{- if .Values.configSecrets.enabled }}
{{- $k := default (dict) (get $cfg "kubernetes") }}
{{- $_ := set $k "configSecrets" (dict "namespace" (include "purser.configSecretsNamespace" .) "labelSelector" .Values.configSecrets.labelSelector) }}
{{- $_ := set $cfg "kubernetes" $k }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{- define "purser.keysSecretName" -}}
{{- if and .Values.signingKeys.key .Values.signingKeys.certificate }}
{{- printf "%s-signing-keys" (include "purser.fullname" .) }}
{{- else if .Values.signingKeys.existingSecret }}
{{- .Values.signingKeys.existingSecret }}
{{- else }}
{{- fail "signingKeys: set existingSecret, or both key and certificate" }}
{{- end }}
{{- end }}

{{/* The restricted Pod Security Standard, asserted so an override cannot weaken it silently. */}}
{{- define "purser.checkRestricted" -}}
{{- $c := .Values.securityContext }}
{{- if or (ne (toString $c.allowPrivilegeEscalation) "false") (ne (toString $c.readOnlyRootFilesystem) "true") }}
{{- fail "securityContext: allowPrivilegeEscalation must be false and readOnlyRootFilesystem true (restricted Pod Security Standard)" }}
{{- end }}
{{- if not .Values.podSecurityContext.runAsNonRoot }}
{{- fail "podSecurityContext.runAsNonRoot must be true (restricted Pod Security Standard)" }}
{{- end }}
{{- end }}
