{{/*
core-go specifics the platform-lib templates call by chart name.
*/}}

{{- define "core-go.component" -}}
backend
{{- end -}}

{{- define "core-go.containerPorts" -}}
- name: http
  containerPort: {{ .Values.port }}
  protocol: TCP
{{ include "platform-lib.metricsContainerPort" . }}
{{- end -}}

{{- define "core-go.env" -}}
- name: PORT
  value: {{ .Values.port | quote }}
{{ include "platform-lib.metricsEnv" . }}
- name: ENV
  value: {{ .Values.environment | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}

{{/*
"http" on the platform's HTTP Service port: api-node derives CORE_GO_BASE_URL from the same define.
/metrics is served on its own "metrics" port, which only Prometheus reaches.
*/}}
{{- define "core-go.servicePorts" -}}
- name: http
  port: {{ include "platform-lib.httpServicePort" . }}
  targetPort: http
  protocol: TCP
{{ include "platform-lib.metricsServicePort" . }}
{{- end -}}
