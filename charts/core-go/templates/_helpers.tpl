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
{{- end -}}

{{- define "core-go.env" -}}
- name: PORT
  value: {{ .Values.port | quote }}
- name: ENV
  value: {{ .Values.environment | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}

{{/*
"http" on the platform's HTTP Service port: api-node derives CORE_GO_BASE_URL from the same define.
/metrics is served on the "http" container port, so "metrics" targets it too.
*/}}
{{- define "core-go.servicePorts" -}}
- name: http
  port: {{ include "platform-lib.httpServicePort" . }}
  targetPort: http
  protocol: TCP
- name: metrics
  port: {{ .Values.port }}
  targetPort: http
  protocol: TCP
{{- end -}}

{{- define "core-go.metricsContainerPort" -}}
http
{{- end -}}
