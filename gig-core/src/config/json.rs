//! A config from JSON.

use std::path::Path;

use super::ConsumerConfig;
use crate::error::ConfigError;

impl ConsumerConfig {
    /// Parses and validates a JSON config.
    pub fn from_json_str(json: &str) -> Result<Self, ConfigError> {
        let config = Self::parse_json(json)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a JSON config file.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let config = Self::parse_json_file(path.as_ref())?;
        config.validate()?;
        Ok(config)
    }

    /// The JSON config, not yet validated.
    fn parse_json(json: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(json).map_err(|source| ConfigError::Json { path: None, source })
    }

    /// The JSON config in `path`, not yet validated: the environment may complete it.
    pub(crate) fn parse_json_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_json(&text).map_err(|e| match e {
            ConfigError::Json { source, .. } => ConfigError::Json {
                path: Some(path.to_path_buf()),
                source,
            },
            other => other,
        })
    }
}
