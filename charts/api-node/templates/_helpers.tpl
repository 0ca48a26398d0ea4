{{/*
api-node specifics the platform-lib templates call by chart name.
*/}}

{{- define "api-node.component" -}}
api
{{- end -}}

{{- define "api-node.containerPorts" -}}
- name: http
  containerPort: {{ .Values.port }}
  protocol: TCP
{{- end -}}

{{/*
Address of the core-go Service of release coreGo.releaseName in this namespace: the name comes from
the library's naming rule applied to that release and chart "core-go", the port from the library's
HTTP Service port, which is what the core-go chart's Service exposes as "http".
*/}}
{{- define "api-node.coreGoBaseUrl" -}}
{{- include "platform-lib.serviceUrl" (dict "release" .Values.coreGo.releaseName "chart" "core-go") -}}
{{- end -}}

{{- define "api-node.env" -}}
- name: PORT
  value: {{ .Values.port | quote }}
- name: ENV
  value: {{ .Values.environment | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
# The process exits at start without it.
- name: CORE_GO_BASE_URL
  value: {{ include "api-node.coreGoBaseUrl" . | quote }}
{{- end -}}

{{/*
/metrics is served on the "http" container port, so the "metrics" Service port targets it too;
its port number is the container's, distinct from the 80 of "http".
*/}}
{{- define "api-node.servicePorts" -}}
- name: http
  port: {{ include "platform-lib.httpServicePort" . }}
  targetPort: http
  protocol: TCP
- name: metrics
  port: {{ .Values.port }}
  targetPort: http
  protocol: TCP
{{- end -}}

{{- define "api-node.metricsContainerPort" -}}
http
{{- end -}}
