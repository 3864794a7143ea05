//! Reading the exit status of `exec` from the status channel (a `metav1.Status`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// `Ok(code)` for a command that ran (0 or its non-zero exit code), `Err` when the exec itself
/// failed (container not found, command not found, ...).
pub fn exit_code(status: &Status) -> Result<i32, String> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
            .and_then(|c| c.message.as_ref())
            .and_then(|m| m.parse().ok());
        return code.ok_or_else(|| {
            format!(
                "non-zero exit without a code: {}",
                status.message.clone().unwrap_or_default()
            )
        });
    }
    Err(status
        .message
        .clone()
        .unwrap_or_else(|| format!("exec failed: {status:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: serde_json::Value) -> Status {
        serde_json::from_value(json).unwrap()
    }

    // Layer 1 (pure): the three shapes the API server sends.
    #[test]
    fn success_non_zero_and_error() {
        assert_eq!(
            exit_code(&status(
                serde_json::json!({"status": "Success", "metadata": {}})
            )),
            Ok(0)
        );
        let non_zero = serde_json::json!({"status": "Failure", "reason": "NonZeroExitCode", "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}, "metadata": {}});
        assert_eq!(exit_code(&status(non_zero)), Ok(3));
        let error = serde_json::json!({"status": "Failure", "reason": "InternalError", "message": "Internal error occurred: error executing command in container: container not found (\"nope\")", "metadata": {}});
        assert!(
            exit_code(&status(error))
                .unwrap_err()
                .contains("container not found")
        );
    }
}
