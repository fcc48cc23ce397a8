// The orders the cards suggest (CDS Hooks suggestion actions create them as drafts for the clinician to sign).

Invariant: bhsr-reason-text-or-coding
Description: "Each reason carries a text or at least one coding."
Expression: "text.exists() or coding.exists()"
Severity: #error

ValueSet: BoneHealthOrders
Id: bone-health-orders
Title: "Bone-health orders"
Description: "What a card may suggest ordering: DXA, a bone-health referral or a 25-OH vitamin D test. Composed from the code lists in cds-services/code-lists.json (dxa-orders, bone-health-referrals, vitamin-d-25oh)."
* ^status = #active
* ^experimental = false
* include codes from valueset DxaOrders
* include codes from valueset BoneHealthReferrals
* include codes from valueset VitaminD25oh

Profile: BoneHealthServiceRequest
Parent: ServiceRequest
Id: bone-health-service-request
Title: "Bone-health service request (card suggestion)"
Description: "A draft order a card suggests: DXA, bone-health referral or 25-OH vitamin D, for the patient in context, requested by the user in context, with the reason the card gives."
* status = #draft
* intent = #order
* category MS
* code 1..1 MS
* code from BoneHealthOrders (required)
* subject MS
* subject only Reference(Patient)
* requester 1..1 MS
* requester only Reference(Practitioner or PractitionerRole)
* authoredOn 1..1 MS
* reasonCode 1..* MS
* reasonCode obeys bhsr-reason-text-or-coding
