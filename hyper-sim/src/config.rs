//! hyper's settings under test: the header-read timeout, `pipeline_flush`,
//! `max_buf_size` and `half_close`, from code or from the environment.

use std::time::Duration;

/// The smallest `max_buf_size` hyper takes (it panics below it).
pub const MIN_BUF_SIZE: usize = 8192;

/// How hyper's HTTP/1.1 builder is set up for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// hyper's `header_read_timeout`; `None` turns it off (and a slowloris then wins).
    pub header_timeout: Option<Duration>,
    /// hyper's `pipeline_flush`: hold responses back while more requests are buffered.
    pub pipeline_flush: bool,
    /// hyper's `max_buf_size`: the read buffer, and so the largest head it takes.
    pub max_buf_size: usize,
    /// hyper's `half_close`: answer a client that shut its writing side after its
    /// requests, rather than close at once.
    pub half_close: bool,
}

impl Default for Config {
    /// A 1 s header timeout, a 16 KiB buffer, `half_close` on, `pipeline_flush` off
    /// (hyper's default).
    fn default() -> Self {
        Config {
            header_timeout: Some(Duration::from_secs(1)),
            pipeline_flush: false,
            max_buf_size: 16 * 1024,
            half_close: true,
        }
    }
}

impl Config {
    /// The default, changed by `HYPER_HEADER_TIMEOUT_MS` (`0`: no timeout),
    /// `HYPER_PIPELINE_FLUSH` and `HYPER_HALF_CLOSE` (`0` or `1`) and `HYPER_MAX_BUF_SIZE`
    /// (at least 8192); an error names the variable that does not parse.
    pub fn from_env() -> Result<Config, String> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{name}={v:?} is not a whole number"))
                })
                .transpose()
        };
        let mut config = Config::default();
        if let Some(ms) = number("HYPER_HEADER_TIMEOUT_MS")? {
            config.header_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        let switch = |name: &str, value: &mut bool| -> Result<(), String> {
            match number(name)? {
                None => {}
                Some(0) => *value = false,
                Some(1) => *value = true,
                Some(n) => return Err(format!("{name}={n}: 0 or 1")),
            }
            Ok(())
        };
        switch("HYPER_PIPELINE_FLUSH", &mut config.pipeline_flush)?;
        switch("HYPER_HALF_CLOSE", &mut config.half_close)?;
        if let Some(size) = number("HYPER_MAX_BUF_SIZE")? {
            config.max_buf_size = usize::try_from(size)
                .ok()
                .filter(|&s| s >= MIN_BUF_SIZE)
                .ok_or_else(|| {
                    format!("HYPER_MAX_BUF_SIZE={size}: hyper needs at least {MIN_BUF_SIZE}")
                })?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn the_environment_changes_each_setting_and_bad_values_are_named() {
        assert_eq!(vars(&[]), Ok(Config::default()));
        let config = vars(&[
            ("HYPER_HEADER_TIMEOUT_MS", "0"),
            ("HYPER_PIPELINE_FLUSH", "1"),
            ("HYPER_MAX_BUF_SIZE", "9000"),
            ("HYPER_HALF_CLOSE", "0"),
        ])
        .unwrap();
        assert_eq!(
            config,
            Config {
                header_timeout: None,
                pipeline_flush: true,
                max_buf_size: 9000,
                half_close: false,
            }
        );
        let err = vars(&[("HYPER_MAX_BUF_SIZE", "100")]).unwrap_err();
        assert!(err.contains("at least 8192"), "{err}");
        let err = vars(&[("HYPER_HEADER_TIMEOUT_MS", "1s")]).unwrap_err();
        assert!(err.contains("HYPER_HEADER_TIMEOUT_MS"), "{err}");
        assert!(vars(&[("HYPER_PIPELINE_FLUSH", "2")]).is_err());
    }
}
