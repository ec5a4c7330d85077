"""Operating agentbox on the owner's machine: first-run setup, health checks, the user service.

`onboarding` (the `agentbox onboard` wizard's logic), `doctor` (+ `doctor_online`,
`doctor_service`, `dbhealth`), `daemon` (systemd/launchd units) and `servicesecrets` (where each
secret lives, so the fix names the right place).
"""
