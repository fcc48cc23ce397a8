// One example per profile; the profile tests validate each of them.

Instance: vbq-lumbar-example
InstanceOf: VbqLumbarObservation
Title: "Lumbar VBQ 3.12 at 1.5 T, ROIs from a DICOM SR"
Description: "Median L1-L4 SI 408.7 over CSF SI 131.0 at L3 = 3.12."
Usage: #example
* identifier[measurement].value = "80c1505ad05be93ec7e6dfc387ed6f7993ac64e3da97a27890e93b6624fe7685"
* status = #final
* category[imaging] = $OBSCAT#imaging "Imaging"
* code = $BQ#vbq-l1-l4 "Vertebral bone quality score L1-L4"
* subject = Reference(Patient/example)
* effectiveDateTime = "2026-03-02T09:14:00Z"
* valueQuantity.value = 3.12
* derivedFrom[0].type = "ImagingStudy"
* derivedFrom[0].identifier.system = "urn:dicom:uid"
* derivedFrom[0].identifier.value = "urn:oid:1.2.826.0.1.3680043.8.498.10001"
* derivedFrom[1].type = "DocumentReference"
* derivedFrom[1].identifier.system = "urn:dicom:uid"
* derivedFrom[1].identifier.value = "urn:oid:1.2.826.0.1.3680043.8.498.20001"
* component[siL1].code = $BQ#si-l1 "Signal intensity L1"
* component[siL1].valueQuantity.value = 402.4
* component[siL2].code = $BQ#si-l2 "Signal intensity L2"
* component[siL2].valueQuantity.value = 415.0
* component[siL3].code = $BQ#si-l3 "Signal intensity L3"
* component[siL3].valueQuantity.value = 398.7
* component[siL4].code = $BQ#si-l4 "Signal intensity L4"
* component[siL4].valueQuantity.value = 421.3
* component[csfSi].code = $BQ#csf-si "Signal intensity CSF"
* component[csfSi].valueQuantity.value = 131.0
* component[csfLevel].code = $BQ#csf-level "CSF reference level"
* component[csfLevel].valueString = "L3"
* component[levelsUsed].code = $BQ#levels-used "Levels used"
* component[levelsUsed].valueString = "L1,L2,L3,L4"
* component[fieldStrength].code = $BQ#field-strength "Magnetic field strength"
* component[fieldStrength].valueQuantity.value = 1.5
* component[sequence].code = $BQ#sequence "Pulse sequence"
* component[sequence].valueString = "T1 TSE"
* component[contrastEnhanced].code = $BQ#contrast-enhanced "Contrast enhanced"
* component[contrastEnhanced].valueBoolean = false
* component[repetitionTime].code = $BQ#repetition-time "Repetition time"
* component[repetitionTime].valueQuantity.value = 550
* component[echoTime].code = $BQ#echo-time "Echo time"
* component[echoTime].valueQuantity.value = 11
* component[pixelBandwidth].code = $BQ#pixel-bandwidth "Pixel bandwidth"
* component[pixelBandwidth].valueQuantity.value = 190
* component[scanner].code = $BQ#scanner "Scanner"
* component[scanner].valueString = "SIEMENS Aera"

Instance: vbq-lumbar-example-excluded-level
InstanceOf: VbqLumbarObservation
Title: "Lumbar VBQ with an excluded level and unknown field strength"
Description: "L2 excluded (fracture); the DICOM header lacked (0018,0087), so field strength is absent with a reason."
Usage: #example
* identifier[measurement].value = "3f1f1b8c40e4c7f7d0f5a0b2f0c4d3e6a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4"
* status = #final
* category[imaging] = $OBSCAT#imaging
* code = $BQ#vbq-l1-l4
* subject = Reference(Patient/example)
* effectiveDateTime = "2025-11-20T15:02:11+01:00"
* valueQuantity.value = 2.74
* derivedFrom[0] = Reference(ImagingStudy/example-mr)
* component[siL1].code = $BQ#si-l1
* component[siL1].valueQuantity.value = 350.2
* component[siL3].code = $BQ#si-l3
* component[siL3].valueQuantity.value = 342.0
* component[siL4].code = $BQ#si-l4
* component[siL4].valueQuantity.value = 361.8
* component[csfSi].code = $BQ#csf-si
* component[csfSi].valueQuantity.value = 128.0
* component[csfLevel].code = $BQ#csf-level
* component[csfLevel].valueString = "L3"
* component[levelsUsed].code = $BQ#levels-used
* component[levelsUsed].valueString = "L1,L3,L4"
* component[excludedLevels].code = $BQ#excluded-levels
* component[excludedLevels].valueString = "L2: fracture"
* component[fieldStrength].code = $BQ#field-strength
* component[fieldStrength].dataAbsentReason = $DAR#unknown
* component[sequence].code = $BQ#sequence
* component[sequence].valueString = "T1 SE"

Instance: ebq-example
InstanceOf: EbqObservation
Title: "EBQ 4.16"
Description: "Mean endplate SI 520.0 over CSF SI 125.0 at L3 = 4.16."
Usage: #example
* identifier[measurement].value = "ac8d43618340b03700754d2bb3eaedd2fbe278fe5612c822da08079c54f1a5f5"
* status = #final
* category[imaging] = $OBSCAT#imaging
* code = $BQ#ebq "Endplate bone quality score"
* subject = Reference(Patient/example)
* effectiveDateTime = "2026-03-02T09:14:00Z"
* valueQuantity.value = 4.16
* derivedFrom[0].type = "ImagingStudy"
* derivedFrom[0].identifier.system = "urn:dicom:uid"
* derivedFrom[0].identifier.value = "urn:oid:1.2.826.0.1.3680043.8.498.10001"
* component[siEndplate].code = $BQ#si-endplate
* component[siEndplate].valueQuantity.value = 520.0
* component[csfSi].code = $BQ#csf-si
* component[csfSi].valueQuantity.value = 125.0
* component[csfLevel].code = $BQ#csf-level
* component[csfLevel].valueString = "L3"
* component[fieldStrength].code = $BQ#field-strength
* component[fieldStrength].valueQuantity.value = 3
* component[sequence].code = $BQ#sequence
* component[sequence].valueString = "T1 TSE"

Instance: vbq-s1-example
InstanceOf: VbqS1Observation
Title: "S1 VBQ 3.17 with L1-L4 instrumented"
Description: "S1 SI 380.0 over CSF SI 120.0 at L3 = 3.17."
Usage: #example
* identifier[measurement].value = "f3acebce7ce4ea58aea451a8ee6574a605aecadad71fcd6fca614845174ba2e6"
* status = #final
* category[imaging] = $OBSCAT#imaging
* code = $BQ#vbq-s1 "S1 vertebral bone quality score"
* subject = Reference(Patient/example)
* effectiveDateTime = "2026-03-02T09:14:00Z"
* valueQuantity.value = 3.17
* derivedFrom[0].type = "ImagingStudy"
* derivedFrom[0].identifier.system = "urn:dicom:uid"
* derivedFrom[0].identifier.value = "urn:oid:1.2.826.0.1.3680043.8.498.10001"
* component[siS1].code = $BQ#si-s1
* component[siS1].valueQuantity.value = 380.0
* component[csfSi].code = $BQ#csf-si
* component[csfSi].valueQuantity.value = 120.0
* component[csfLevel].code = $BQ#csf-level
* component[csfLevel].valueString = "L3"
* component[levelsUsed].code = $BQ#levels-used
* component[levelsUsed].valueString = "S1"
* component[excludedLevels].code = $BQ#excluded-levels
* component[excludedLevels].valueString = "L1: instrumented; L2: instrumented; L3: instrumented; L4: instrumented"
* component[fieldStrength].code = $BQ#field-strength
* component[fieldStrength].valueQuantity.value = 1.5
* component[sequence].code = $BQ#sequence
* component[sequence].valueString = "T1 SE"

Instance: c-vbq-example
InstanceOf: CervicalVbqObservation
Title: "C-VBQ 2.80"
Description: "Median C3-C6 SI 336.0 over CSF SI 120.0 at C2 = 2.80."
Usage: #example
* identifier[measurement].value = "a88657f3ab93382f8af1b03503c53978896ae772bd84d0b31e394575ae13759f"
* status = #final
* category[imaging] = $OBSCAT#imaging
* code = $BQ#c-vbq "Cervical vertebral bone quality score"
* subject = Reference(Patient/example)
* effectiveDateTime = "2026-01-15T10:30:00Z"
* valueQuantity.value = 2.80
* derivedFrom[0].type = "ImagingStudy"
* derivedFrom[0].identifier.system = "urn:dicom:uid"
* derivedFrom[0].identifier.value = "urn:oid:1.2.826.0.1.3680043.8.498.10002"
* component[siC3].code = $BQ#si-c3
* component[siC3].valueQuantity.value = 330.0
* component[siC4].code = $BQ#si-c4
* component[siC4].valueQuantity.value = 334.0
* component[siC5].code = $BQ#si-c5
* component[siC5].valueQuantity.value = 338.0
* component[siC6].code = $BQ#si-c6
* component[siC6].valueQuantity.value = 342.0
* component[csfSi].code = $BQ#csf-si
* component[csfSi].valueQuantity.value = 120.0
* component[csfLevel].code = $BQ#csf-level
* component[csfLevel].valueString = "C2"
* component[levelsUsed].code = $BQ#levels-used
* component[levelsUsed].valueString = "C3,C4,C5,C6"
* component[fieldStrength].code = $BQ#field-strength
* component[fieldStrength].valueQuantity.value = 3
* component[sequence].code = $BQ#sequence
* component[sequence].valueString = "T1 TSE"

Instance: ct-hu-l1-example
InstanceOf: CtHuL1Observation
Title: "L1 trabecular attenuation 98 HU"
Description: "Below the 110 HU threshold (Pickhardt 2013)."
Usage: #example
* identifier[measurement].value = "ab6dfcdf79ee677c1f894b59b91914a4cc3fe3c1ec0c3edf2ddbb2998460eb81"
* status = #final
* category[imaging] = $OBSCAT#imaging
* code = $BQ#ct-hu-l1 "L1 trabecular attenuation (CT)"
* subject = Reference(Patient/example)
* effectiveDateTime = "2025-09-01T08:00:00Z"
* valueQuantity.value = 98
* derivedFrom[0] = Reference(ImagingStudy/example-ct)
* component[contrastEnhanced].code = $BQ#contrast-enhanced
* component[contrastEnhanced].valueBoolean = false

Instance: service-request-dxa-example
InstanceOf: BoneHealthServiceRequest
Title: "Suggested DXA"
Description: "Draft axial DXA suggested because the lumbar VBQ exceeds the procedure's cutoff and no DXA is on record."
Usage: #example
* status = #draft
* intent = #order
* code = $CPT#77080 "Dual-energy X-ray absorptiometry (DXA), bone density study, axial skeleton"
* subject = Reference(Patient/example)
* requester = Reference(Practitioner/example)
* authoredOn = "2026-03-03T08:00:00Z"
* reasonCode[0].text = "VBQ 3.12 above the 3.0 cutoff for fusion reoperation (Ehresman 2020); no DXA in the last 2 years"
* reasonCode[0].coding[0] = $TOPIC#bone-quality-above-cutoff "Bone-quality score above the procedure's cutoff"

Instance: service-request-referral-example
InstanceOf: BoneHealthServiceRequest
Title: "Suggested bone-health referral"
Description: "Draft referral suggested for osteoporosis (DXA T-score -2.7) before elective fusion."
Usage: #example
* status = #draft
* intent = #order
* code = $SCT#183515008 "Referral to physician"
* subject = Reference(Patient/example)
* requester = Reference(PractitionerRole/example)
* authoredOn = "2026-03-03T08:00:00Z"
* reasonCode[0].text = "Osteoporosis by DXA (T-score -2.7): treat before elective fusion"

Instance: service-request-vitamin-d-example
InstanceOf: BoneHealthServiceRequest
Title: "Suggested 25-OH vitamin D test"
Description: "Draft 25-OH vitamin D test suggested because no recent result is on record."
Usage: #example
* status = #draft
* intent = #order
* code = $LOINC#62292-8
* subject = Reference(Patient/example)
* requester = Reference(Practitioner/example)
* authoredOn = "2026-03-03T08:00:00Z"
* reasonCode[0].text = "No 25-OH vitamin D result on record; low vitamin D predicts osteoporosis-related complications (Dimar 2021)"
