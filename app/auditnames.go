package app

// auditActionLabel is the plain-language name of an audit action; the log itself keeps
// the stable codes (enrollment.approve …), which stay searchable and exportable.
func auditActionLabel(action string) string {
	switch action {
	case "station.init":
		return tr("Station set up")
	case "station.settings":
		return tr("Settings changed")
	case "station.issuer-key":
		return tr("Issuer key imported")
	case "station.quality":
		return tr("Quality thresholds changed")
	case "station.attest":
		return tr("Keys certified by the TPM")
	case "station.activate":
		return tr("Attestation credential activated")
	case "station.printer":
		return tr("Receipt printer chosen")
	case "camera.profile":
		return tr("Camera profile saved")
	case "user.add":
		return tr("Operator added")
	case "user.login":
		return tr("Logged in")
	case "user.login-failed":
		return tr("Failed login")
	case "user.lock":
		return tr("Account locked")
	case "user.unlock":
		return tr("Account unlocked")
	case "user.passwd":
		return tr("Password changed")
	case "user.reset-password":
		return tr("Password reset")
	case "user.roles":
		return tr("Roles changed")
	case "user.login-refused":
		return tr("Login refused (account locked)")
	case "user.approval-key":
		return tr("Approval key made")
	case "station.recovery-code":
		return tr("Recovery code issued")
	case "station.recover":
		return tr("Recovery code used")
	case "station.recover-refused":
		return tr("Recovery code refused")
	case "operator.language":
		return tr("Own language chosen")
	case "enrollment.save":
		return tr("Enrollment submitted")
	case "enrollment.approve":
		return tr("Enrollment approved")
	case "enrollment.reject":
		return tr("Enrollment rejected")
	case "enrollment.purge":
		return tr("Biometrics deleted")
	case "enrollment.issuer-refused":
		return tr("Refused by the issuer")
	case "receipt.print":
		return tr("Receipt printed")
	case "batch.close":
		return tr("Batch closed")
	case "batch.export":
		return tr("Batch exported")
	case "batch.export-failed":
		return tr("Export failed")
	case "batch.issuer-ack":
		return tr("Issuer acknowledgement imported")
	case "batch.issuer-nack":
		return tr("Bundle refused by the issuer")
	case "batch.quarantine":
		return tr("Damaged record taken out of a batch")
	}
	return action // an action added later without a name yet
}
