// The project's own bone-quality CodeSystem. No LOINC or SNOMED CT code exists for MRI VBQ, EBQ or vertebral CT HU
// (DICOM PS3.16), so metrics, their components and the acquisition facts that make a value
// interpretable are defined here. Every definition names its source.

CodeSystem: BoneQualityCodeSystem
Id: bone-quality
Title: "Bone quality measurements"
Description: "Opportunistic bone-quality metrics measured on MRI (VBQ family) and CT (L1 trabecular HU), the components that make each value reproducible (per-level ROI signal intensities, CSF reference) and the acquisition facts that decide whether a published cutoff applies."
* ^status = #active
* ^experimental = false
* ^caseSensitive = true
* ^content = #complete
* ^hierarchyMeaning = #grouped-by
// Metrics
* #vbq-l1-l4 "Vertebral bone quality score L1-L4" "Median signal intensity (SI) of the L1-L4 trabecular ROIs divided by the SI of cerebrospinal fluid at L3 (L2 or L4 when L3 is obstructed) on a non-contrast midsagittal T1-weighted spin-echo MR image; fractured, instrumented, cemented or lesioned levels are excluded. Source: Ehresman et al. 2020, Spine J, doi:10.1016/j.spinee.2019.10.018; Gausper et al. 2025, J Clin Med, doi:10.3390/jcm14186477."
* #ebq "Endplate bone quality score" "Mean SI of the subchondral bone adjacent to the vertebral endplates divided by the CSF SI on a non-contrast T1-weighted MR image; the amount of endplate included is not standardised. Source: Gausper et al. 2025, J Clin Med, doi:10.3390/jcm14186477 (section 3.2, after Jones et al. 2022)."
* #vbq-s1 "S1 vertebral bone quality score" "SI of an ROI over the S1 vertebral body divided by the CSF SI on a non-contrast T1-weighted MR image; used when L1-L4 are instrumented and for sacropelvic fixation. Source: Gausper et al. 2025, J Clin Med, doi:10.3390/jcm14186477 (section 3.3, after Huang et al. 2023)."
* #c-vbq "Cervical vertebral bone quality score" "Median SI of the C3-C6 vertebral bodies divided by the CSF SI at C2 on a non-contrast T1-weighted MR image (Soliman et al. 2023); other authors use C2-C7 over T1 CSF or C5 CSF (Razzouk 2022), so levels and CSF level are recorded with each value. Source: Gausper et al. 2025, J Clin Med, doi:10.3390/jcm14186477 (section 9)."
* #ct-hu-l1 "L1 trabecular attenuation (CT)" "Mean attenuation in Hounsfield units of an ROI in the L1 trabecular bone on CT; <= 110 HU is more than 90% specific for osteoporosis, <= 160 HU 90% sensitive. Source: Pickhardt et al. 2013, Ann Intern Med, doi:10.7326/0003-4819-158-8-201304160-00003."
// Per-level ROI signal intensities (components)
* #si-l1 "Signal intensity L1" "Mean SI inside the trabecular ROI of the L1 vertebral body (avoiding cortex, endplates, basivertebral vein and Modic change). Source: Ehresman et al. 2020, doi:10.1016/j.spinee.2019.10.018."
* #si-l2 "Signal intensity L2" "Mean SI inside the trabecular ROI of the L2 vertebral body. Source: Ehresman et al. 2020, doi:10.1016/j.spinee.2019.10.018."
* #si-l3 "Signal intensity L3" "Mean SI inside the trabecular ROI of the L3 vertebral body. Source: Ehresman et al. 2020, doi:10.1016/j.spinee.2019.10.018."
* #si-l4 "Signal intensity L4" "Mean SI inside the trabecular ROI of the L4 vertebral body. Source: Ehresman et al. 2020, doi:10.1016/j.spinee.2019.10.018."
* #si-l5 "Signal intensity L5" "Mean SI inside the trabecular ROI of the L5 vertebral body (global VBQ variant L1-L5). Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (Pu 2023)."
* #si-s1 "Signal intensity S1" "Mean SI inside the ROI over the S1 vertebral body. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 3.3)."
* #si-c2 "Signal intensity C2" "Mean SI inside the trabecular ROI of the C2 vertebral body. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 9)."
* #si-c3 "Signal intensity C3" "Mean SI inside the trabecular ROI of the C3 vertebral body. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 9)."
* #si-c4 "Signal intensity C4" "Mean SI inside the trabecular ROI of the C4 vertebral body. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 9)."
* #si-c5 "Signal intensity C5" "Mean SI inside the trabecular ROI of the C5 vertebral body. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 9)."
* #si-c6 "Signal intensity C6" "Mean SI inside the trabecular ROI of the C6 vertebral body. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 9)."
* #si-c7 "Signal intensity C7" "Mean SI inside the trabecular ROI of the C7 vertebral body. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 9)."
* #si-endplate "Signal intensity endplate" "Mean SI of the subchondral bone ROIs adjacent to the endplates (EBQ numerator). Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (section 3.2)."
* #csf-si "Signal intensity CSF" "Mean SI of the cerebrospinal fluid ROI used as the reference (denominator) of every VBQ-family score. Source: Ehresman et al. 2020, doi:10.1016/j.spinee.2019.10.018."
* #csf-level "CSF reference level" "Vertebral level of the CSF ROI, e.g. L3 (L2 or L4 when L3 is obstructed; C2 for C-VBQ). Source: Wu et al. 2025, doi:10.1097/BR9.0000000000000019; Gausper et al. 2025, doi:10.3390/jcm14186477."
* #levels-used "Levels used" "Comma-separated vertebral levels whose ROIs entered the score, e.g. L1,L2,L3,L4. Source: Ehresman et al. 2020, doi:10.1016/j.spinee.2019.10.018 (exclusion of affected levels)."
* #excluded-levels "Excluded levels" "Levels left out and why, e.g. 'L2: fracture; L4: instrumented'; present only when some level was excluded. Source: Chen et al. 2023, doi:10.1186/s13018-023-03746-0 (exclude collapsed levels); reviewed in Gausper 2025."
// Acquisition facts (VBQ is relative to scanner and protocol)
* #field-strength "Magnetic field strength" "Main magnetic field strength of the MR scanner in tesla, DICOM (0018,0087); 1.5 T gives higher VBQ than 3.0 T. Source: J Orthop Surg Res 2023, doi:10.1186/s13018-023-04268-5; Gausper et al. 2025, doi:10.3390/jcm14186477."
* #sequence "Pulse sequence" "Sequence family of the measured series, e.g. 'T1 SE' or 'T1 TSE'; T1 FLAIR invalidates the CSF reference. Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (confounders)."
* #contrast-enhanced "Contrast enhanced" "Whether a contrast agent was given before the measured series (DICOM (0018,0010)); a contrast-enhanced T1 image invalidates the CSF reference. Source: Ehresman et al. 2020, doi:10.1016/j.spinee.2019.10.018 (non-contrast images only)."
* #repetition-time "Repetition time" "Repetition time (TR) of the measured series in ms, DICOM (0018,0080). Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (protocol dependence)."
* #echo-time "Echo time" "Echo time (TE) of the measured series in ms, DICOM (0018,0081). Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (protocol dependence)."
* #pixel-bandwidth "Pixel bandwidth" "Receiver bandwidth per pixel in Hz, DICOM (0018,0095). Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (protocol dependence)."
* #scanner "Scanner" "Manufacturer and model name of the scanner, DICOM (0008,0070) and (0008,1090). Source: Gausper et al. 2025, doi:10.3390/jcm14186477 (scanner dependence of VBQ)."

// The card-topic and override-reason CodeSystems are generated from cds-services/decision-points.json
// (generated-codesystems.fsh), where the rules keep their one list of topics and reasons.

ValueSet: BoneQualityMetrics
Id: bone-quality-metrics
Title: "Bone quality metrics"
Description: "Observation codes of the bone-quality measurements the service writes."
* ^status = #active
* ^experimental = false
* $BQ#vbq-l1-l4
* $BQ#ebq
* $BQ#vbq-s1
* $BQ#c-vbq
* $BQ#ct-hu-l1

ValueSet: BoneQualityComponents
Id: bone-quality-components
Title: "Bone quality observation components"
Description: "Component codes allowed in bone-quality Observations: ROI signal intensities, the CSF reference and acquisition facts."
* ^status = #active
* ^experimental = false
* $BQ#si-l1
* $BQ#si-l2
* $BQ#si-l3
* $BQ#si-l4
* $BQ#si-l5
* $BQ#si-s1
* $BQ#si-c2
* $BQ#si-c3
* $BQ#si-c4
* $BQ#si-c5
* $BQ#si-c6
* $BQ#si-c7
* $BQ#si-endplate
* $BQ#csf-si
* $BQ#csf-level
* $BQ#levels-used
* $BQ#excluded-levels
* $BQ#field-strength
* $BQ#sequence
* $BQ#contrast-enhanced
* $BQ#repetition-time
* $BQ#echo-time
* $BQ#pixel-bandwidth
* $BQ#scanner

ValueSet: CardTopics
Id: card-topics
Title: "Card topics"
Description: "All topics of the service's cards."
* ^status = #active
* ^experimental = false
* include codes from system $TOPIC

ValueSet: OverrideReasons
Id: override-reasons
Title: "Override reasons"
Description: "All reasons a clinician may give when dismissing a card."
* ^status = #active
* ^experimental = false
* include codes from system $OVERRIDE

ValueSet: BoneQualityObservationStatus
Id: bone-quality-observation-status
Title: "Bone quality observation status"
Description: "Statuses a bone-quality Observation may carry: written final, later amended, corrected or withdrawn; never preliminary, because the service only writes complete measurements."
* ^status = #active
* ^experimental = false
* http://hl7.org/fhir/observation-status#final
* http://hl7.org/fhir/observation-status#amended
* http://hl7.org/fhir/observation-status#corrected
* http://hl7.org/fhir/observation-status#entered-in-error

CodeSystem: VbqRefusalReason
Id: vbq-refusal-reason
Title: "VBQ measurement refusal reasons"
Description: "Why the service refused to compute a bone-quality score from an image series: the reason is reported instead of a number. Rules from Ehresman 2020, Wu 2025 and Kadri 2022 (reviewed in Gausper 2025): VBQ needs a non-contrast sagittal T1-weighted spin-echo image with a CSF reference and at least two usable levels."
* ^status = #active
* ^experimental = false
* ^caseSensitive = true
* ^content = #complete
* #not-mr "Not MR" "The image is not a magnetic resonance image (Modality is not MR)."
* #not-ct "Not CT" "A CT metric (L1 HU) was asked for an image that is not CT."
* #not-t1 "Not T1-weighted" "The sequence is not T1-weighted (e.g. T2 or proton density); VBQ is defined on T1 (Ehresman 2020)."
* #weighting-unknown "Weighting unknown" "The weighting cannot be determined from the DICOM header."
* #flair-or-inversion-recovery "FLAIR or inversion recovery" "T1 FLAIR or another inversion-recovery sequence: it changes the CSF signal, so the CSF reference is invalid (reviewed in Gausper 2025)."
* #fat-suppressed "Fat suppressed" "Fat suppression removes the marrow-fat signal VBQ measures."
* #not-spin-echo "Not spin echo" "Not a spin-echo (or turbo/fast spin-echo) sequence, as the published cutoffs require."
* #contrast-enhanced "Contrast-enhanced" "A contrast agent was given: contrast changes the CSF and marrow signal (reviewed in Gausper 2025)."
* #not-sagittal "Not sagittal" "VBQ is measured on a midsagittal image."
* #orientation-unknown "Orientation unknown" "The image orientation is missing or cannot be classified."
* #not-spine "Not spine" "The image does not show the spine region the metric needs."
* #region-mismatch "Region mismatch" "The ROIs name levels of another spine region than the image (e.g. lumbar ROIs on a cervical image)."
* #mixed-series "Mixed series" "The ROIs reference images from more than one series."
* #csf-roi-missing "CSF ROI missing" "No cerebrospinal fluid ROI: the score has no reference."
* #too-few-levels "Too few levels" "Fewer than two vertebral levels remain after exclusions (brief section 2)."
* #no-included-levels "No included levels" "Every level ROI was excluded."
