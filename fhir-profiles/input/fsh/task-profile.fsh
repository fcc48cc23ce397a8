// The radiology loop (issue 17): when surgery is being ordered and the patient has a spine MR with no
// bone-quality score, the data-gap card suggests asking radiology to measure VBQ on the existing images.
// The service completes the Task (output: the Observation) when the measurement lands.

CodeSystem: RadiologyTaskCodeSystem
Id: radiology-task
Title: "Radiology measurement tasks"
Description: "What a card may ask radiology to do on existing images, and the Task input and output types the service reads and writes."
* ^status = #active
* ^experimental = false
* ^caseSensitive = true
* ^content = #complete
* #measure-vbq "Measure VBQ on existing MR images" "Draw the vertebral body and CSF ROIs on the existing non-contrast sagittal T1-weighted spine MR and save the measurement report, so that a vertebral bone quality score is available before surgery."
* #study-instance-uid "DICOM Study Instance UID" "Task input: the DICOM Study Instance UID of the study to measure (urn:oid:...), so the PACS side can match the request without reading the ImagingStudy."
* #bone-quality-observation "Bone-quality Observation" "Task output: the bone-quality Observation the measurement produced."

Invariant: vbqt-output-when-completed
Description: "A completed measurement task names the Observation it produced."
Expression: "status = 'completed' implies output.exists()"
Severity: #error

Profile: VbqMeasurementTask
Parent: Task
Id: vbq-measurement-task
Title: "VBQ measurement request (card suggestion)"
Description: "A request to radiology to measure VBQ on an existing spine MR (focus) before the surgery being ordered (reasonReference), created from the data-gap card; completed by the service when the measurement lands, with the Observation as output."
* obeys vbqt-output-when-completed
* status MS
* intent = #order
* code 1..1 MS
* code = RadiologyTaskCodeSystem#measure-vbq
* focus 1..1 MS
* focus only Reference(ImagingStudy)
* for 1..1 MS
* for only Reference(Patient)
* reasonReference 1..1 MS
* reasonReference only Reference(ServiceRequest)
* requester 1..1 MS
* requester only Reference(Practitioner or PractitionerRole)
* authoredOn 1..1 MS
* performerType MS
* restriction.period.end MS
* restriction.period.end ^short = "Planned surgery date, when the order names one"
* input MS
* output MS

Instance: vbq-measurement-task-example
InstanceOf: VbqMeasurementTask
Title: "VBQ measurement request, completed"
Usage: #example
* status = #completed
* intent = #order
* code = RadiologyTaskCodeSystem#measure-vbq
* description = "Measure VBQ on the existing lumbar MR before TLIF"
* focus = Reference(ImagingStudy/example-lumbar-mr)
* for = Reference(Patient/example)
* reasonReference = Reference(ServiceRequest/example-tlif)
* requester = Reference(Practitioner/example)
* authoredOn = "2025-03-15T08:00:00Z"
* restriction.period.end = "2025-04-02"
* performerType = http://snomed.info/sct#66862007 "Radiologist"
* input[0].type = RadiologyTaskCodeSystem#study-instance-uid
* input[0].valueOid = "urn:oid:2.25.1234"
* output[0].type = RadiologyTaskCodeSystem#bone-quality-observation
* output[0].valueReference = Reference(Observation/vbq-lumbar-example)
