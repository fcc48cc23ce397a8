// Code system and canonical aliases shared by every FSH file of this project.
Alias: $BQ = https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality
Alias: $TOPIC = https://spine-bone-health-cds.org/fhir/CodeSystem/card-topic
Alias: $OVERRIDE = https://spine-bone-health-cds.org/fhir/CodeSystem/override-reason
Alias: $UCUM = http://unitsofmeasure.org
Alias: $OBSCAT = http://terminology.hl7.org/CodeSystem/observation-category
Alias: $DAR = http://terminology.hl7.org/CodeSystem/data-absent-reason
Alias: $CPT = http://www.ama-assn.org/go/cpt
Alias: $SCT = http://snomed.info/sct
Alias: $LOINC = http://loinc.org
Alias: $ICD10CM = http://hl7.org/fhir/sid/icd-10-cm
Alias: $RXNORM = http://www.nlm.nih.gov/research/umls/rxnorm
Alias: $DCM = http://dicom.nema.org/resources/ontology/DCM
Alias: $MEASUREMENT_ID = https://spine-bone-health-cds.org/fhir/identifier/bone-quality-measurement
