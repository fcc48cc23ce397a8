// Observation profiles for the bone-quality values the imaging module writes. The shape is the shared
// contract in the project's working rules: a VBQ-family value is only interpretable with its per-level
// signal intensities, its CSF reference and the scanner facts, so those travel as required components.

// Invariants sit on the root: the validator we use evaluates root and element constraints, not
// constraints declared on slices.
Invariant: bq-identifier-sha256
Description: "The measurement identifier is the lower-case hex SHA-256 of StudyInstanceUID|roiSource|metric."
Expression: "identifier.where(system = 'https://spine-bone-health-cds.org/fhir/identifier/bone-quality-measurement').all(value.matches('^[0-9a-f]{64}$'))"
Severity: #error

Invariant: bq-derived-from-study
Description: "derivedFrom names the ImagingStudy the value was measured on (by reference or DICOM identifier)."
Expression: "derivedFrom.where(type = 'ImagingStudy' or reference.startsWith('ImagingStudy/')).exists()"
Severity: #error

Invariant: bq-derived-from-dicom-uid
Description: "A derivedFrom identifier is a DICOM UID: system urn:dicom:uid, value urn:oid:<uid>."
Expression: "derivedFrom.identifier.all(system = 'urn:dicom:uid' and value.matches('^urn:oid:[0-2]([.](0|[1-9][0-9]*))+$'))"
Severity: #error

Invariant: bq-component-value-or-absent
Description: "Every component carries either a value or a dataAbsentReason (e.g. field strength missing from the DICOM header), never both and never neither."
Expression: "component.all(value.exists() xor dataAbsentReason.exists())"
Severity: #error

Invariant: bq-lumbar-level
Description: "At least one lumbar level (L1-L4) signal intensity is present."
Expression: "component.where(code.coding.where(system = 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality' and (code = 'si-l1' or code = 'si-l2' or code = 'si-l3' or code = 'si-l4')).exists()).exists()"
Severity: #error

Invariant: bq-endplate-level
Description: "The endplate signal intensity or at least one per-level signal intensity is present."
Expression: "component.where(code.coding.where(system = 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality' and code.startsWith('si-')).exists()).exists()"
Severity: #error

Invariant: bq-cervical-level
Description: "At least one cervical level (C2-C7) signal intensity is present."
Expression: "component.where(code.coding.where(system = 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality' and code.startsWith('si-c')).exists()).exists()"
Severity: #error

// Rules shared by every bone-quality Observation (MRI and CT).
RuleSet: BoneQualityCommonRules
* identifier 1..*
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "The measurement identifier makes writes idempotent (conditional create)."
* identifier contains measurement 1..1 MS
* identifier[measurement].system 1..1
* identifier[measurement].system = "https://spine-bone-health-cds.org/fhir/identifier/bone-quality-measurement" (exactly)
* identifier[measurement].value 1..1
* status MS
* status from BoneQualityObservationStatus (required)
* category 1..*
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category contains imaging 1..1 MS
* category[imaging] = $OBSCAT#imaging
* code MS
* subject 1..1 MS
* subject only Reference(Patient)
* effective[x] 1..1 MS
* effective[x] only dateTime
* value[x] 1..1 MS
* value[x] only Quantity
* valueQuantity.value 1..1
* dataAbsentReason 0..0
* derivedFrom 1..* MS
* derivedFrom only Reference(ImagingStudy or DocumentReference)
* obeys bq-derived-from-study and bq-derived-from-dicom-uid and bq-identifier-sha256 and bq-component-value-or-absent
* component.code from BoneQualityComponents (required)

// Slices on Observation.component by the bone-quality code. Rule sets take the slice name and code.
RuleSet: SignalIntensitySlice(slice, code)
* component[{slice}].code = $BQ#{code}
* component[{slice}].value[x] 1..1
* component[{slice}].value[x] only Quantity
* component[{slice}].valueQuantity = $UCUM#1 "1"
* component[{slice}].valueQuantity.value 1..1

RuleSet: StringSlice(slice, code)
* component[{slice}].code = $BQ#{code}
* component[{slice}].value[x] 1..1
* component[{slice}].value[x] only string

RuleSet: QuantitySlice(slice, code, ucum, unit)
* component[{slice}].code = $BQ#{code}
* component[{slice}].value[x] only Quantity
* component[{slice}].valueQuantity = $UCUM#{ucum} "{unit}"
* component[{slice}].valueQuantity.value 1..1

Profile: BoneQualityObservation
Parent: Observation
Id: bone-quality-observation
Title: "Bone quality observation (MRI VBQ family)"
Description: "Common base of the MRI signal-intensity ratio scores (lumbar VBQ, EBQ, S1 VBQ, C-VBQ): a dimensionless ratio with the ROI signal intensities, the CSF reference and the acquisition facts needed to judge whether a published cutoff applies. Not claimed directly by instances; use a derived profile."
* ^abstract = true
* insert BoneQualityCommonRules
* code from BoneQualityMetrics (required)
* valueQuantity = $UCUM#1 "1"
* component 1..* MS
* component ^slicing.discriminator.type = #pattern
* component ^slicing.discriminator.path = "code"
* component ^slicing.rules = #open
* component ^slicing.description = "Components are identified by their bone-quality code."
* component contains
    siL1 0..1 and siL2 0..1 and siL3 0..1 and siL4 0..1 and siL5 0..1 and siS1 0..1 and
    siC2 0..1 and siC3 0..1 and siC4 0..1 and siC5 0..1 and siC6 0..1 and siC7 0..1 and
    siEndplate 0..1 and
    csfSi 1..1 MS and csfLevel 1..1 MS and levelsUsed 0..1 and excludedLevels 0..1 and
    fieldStrength 1..1 MS and sequence 1..1 MS and contrastEnhanced 0..1 and
    repetitionTime 0..1 and echoTime 0..1 and pixelBandwidth 0..1 and scanner 0..1
* insert SignalIntensitySlice(siL1, si-l1)
* insert SignalIntensitySlice(siL2, si-l2)
* insert SignalIntensitySlice(siL3, si-l3)
* insert SignalIntensitySlice(siL4, si-l4)
* insert SignalIntensitySlice(siL5, si-l5)
* insert SignalIntensitySlice(siS1, si-s1)
* insert SignalIntensitySlice(siC2, si-c2)
* insert SignalIntensitySlice(siC3, si-c3)
* insert SignalIntensitySlice(siC4, si-c4)
* insert SignalIntensitySlice(siC5, si-c5)
* insert SignalIntensitySlice(siC6, si-c6)
* insert SignalIntensitySlice(siC7, si-c7)
* insert SignalIntensitySlice(siEndplate, si-endplate)
* insert SignalIntensitySlice(csfSi, csf-si)
* insert StringSlice(csfLevel, csf-level)
* insert StringSlice(levelsUsed, levels-used)
* insert StringSlice(excludedLevels, excluded-levels)
// Field strength is required, but older DICOM lacks (0018,0087): dataAbsentReason then says so.
* insert QuantitySlice(fieldStrength, field-strength, T, T)
* component[fieldStrength].dataAbsentReason from http://hl7.org/fhir/ValueSet/data-absent-reason (required)
* insert StringSlice(sequence, sequence)
* component[contrastEnhanced].code = $BQ#contrast-enhanced
* component[contrastEnhanced].value[x] 1..1
* component[contrastEnhanced].value[x] only boolean
* insert QuantitySlice(repetitionTime, repetition-time, ms, ms)
* component[repetitionTime].value[x] 1..1
* insert QuantitySlice(echoTime, echo-time, ms, ms)
* component[echoTime].value[x] 1..1
* insert QuantitySlice(pixelBandwidth, pixel-bandwidth, Hz, Hz/pixel)
* component[pixelBandwidth].value[x] 1..1
* insert StringSlice(scanner, scanner)

Profile: VbqLumbarObservation
Parent: BoneQualityObservation
Id: vbq-lumbar
Title: "Lumbar vertebral bone quality (VBQ L1-L4)"
Description: "Ehresman VBQ: median L1-L4 trabecular signal intensity over CSF signal intensity at L3 on a non-contrast T1-weighted MR image."
* ^abstract = false
* code = $BQ#vbq-l1-l4
* obeys bq-lumbar-level
* component[siC2] 0..0
* component[siC3] 0..0
* component[siC4] 0..0
* component[siC5] 0..0
* component[siC6] 0..0
* component[siC7] 0..0

Profile: EbqObservation
Parent: BoneQualityObservation
Id: ebq
Title: "Endplate bone quality (EBQ)"
Description: "Mean subchondral (endplate) signal intensity over CSF signal intensity on a non-contrast T1-weighted MR image."
* ^abstract = false
* code = $BQ#ebq
* obeys bq-endplate-level

Profile: VbqS1Observation
Parent: BoneQualityObservation
Id: vbq-s1
Title: "S1 vertebral bone quality (S1 VBQ)"
Description: "Signal intensity of the S1 body over CSF signal intensity on a non-contrast T1-weighted MR image."
* ^abstract = false
* code = $BQ#vbq-s1
* component[siS1] 1..1 MS
* component[siC2] 0..0
* component[siC3] 0..0
* component[siC4] 0..0
* component[siC5] 0..0
* component[siC6] 0..0
* component[siC7] 0..0

Profile: CervicalVbqObservation
Parent: BoneQualityObservation
Id: c-vbq
Title: "Cervical vertebral bone quality (C-VBQ)"
Description: "Median C3-C6 signal intensity over CSF signal intensity at C2 (or another recorded level) on a non-contrast T1-weighted MR image."
* ^abstract = false
* code = $BQ#c-vbq
* obeys bq-cervical-level
* component[siL1] 0..0
* component[siL2] 0..0
* component[siL3] 0..0
* component[siL4] 0..0
* component[siL5] 0..0
* component[siS1] 0..0

Profile: CtHuL1Observation
Parent: Observation
Id: ct-hu-l1
Title: "L1 trabecular attenuation on CT (HU)"
Description: "Mean attenuation of an L1 trabecular ROI on CT in Hounsfield units (Pickhardt 2013)."
* insert BoneQualityCommonRules
* code = $BQ#ct-hu-l1
* valueQuantity = $UCUM#[hnsf'U] "HU"
* component ^slicing.discriminator.type = #pattern
* component ^slicing.discriminator.path = "code"
* component ^slicing.rules = #open
* component contains contrastEnhanced 0..1 and levelsUsed 0..1 and scanner 0..1
* component[contrastEnhanced].code = $BQ#contrast-enhanced
* component[contrastEnhanced].value[x] 1..1
* component[contrastEnhanced].value[x] only boolean
* insert StringSlice(levelsUsed, levels-used)
* insert StringSlice(scanner, scanner)
