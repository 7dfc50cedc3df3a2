import pytest

from service.config import Settings


def test_the_embedded_default_needs_no_server(tmp_path):
    settings = Settings.from_env({"FACEAGE_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path}/faceage.sqlite"
    assert settings.broker_url == f"sqla+sqlite:///{tmp_path}/broker.sqlite"
    assert settings.embedded


def test_every_setting_comes_from_a_faceage_variable():
    settings = Settings.from_env(
        {
            "FACEAGE_DATABASE_URL": "postgresql+psycopg://db/faceage",
            "FACEAGE_BROKER_URL": "redis://redis:6379/0",
            "FACEAGE_MAX_UPLOAD_BYTES": "1000",
            "FACEAGE_RETENTION_HOURS": "1.5",
            "FACEAGE_DEFAULT_AGES": "10, 70",
        }
    )
    assert settings.broker_url == "redis://redis:6379/0" and not settings.embedded
    assert settings.max_upload_bytes == 1000 and settings.retention_hours == 1.5
    assert settings.default_ages == (10.0, 70.0)
    assert "FACEAGE_DATABASE_URL" in settings.documented()


def test_a_malformed_number_is_named():
    with pytest.raises(ValueError, match="FACEAGE_MAX_UPLOAD_BYTES"):
        Settings.from_env({"FACEAGE_MAX_UPLOAD_BYTES": "lots"})


def test_the_renderer_is_configuration_and_a_wrong_one_is_named():
    assert Settings.from_env({}).renderer == "prototypes"
    assert Settings.from_env({"FACEAGE_RENDERER": "caae"}).renderer == "caae"
    with pytest.raises(ValueError, match="FACEAGE_RENDERER"):
        Settings.from_env({"FACEAGE_RENDERER": "oil-paint"})


def test_the_configuration_takes_every_renderer_the_pipeline_can_make_and_reads_without_pytorch():
    import subprocess
    import sys

    from aging_model.renderers import RENDERER_NAMES

    assert [Settings.from_env({"FACEAGE_RENDERER": name}).renderer for name in RENDERER_NAMES] == list(RENDERER_NAMES)
    check = "import sys, service.config; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check]).returncode == 0


def test_switches_read_the_usual_spellings_and_name_a_wrong_one():
    assert Settings.from_env({"FACEAGE_SECURE_COOKIES": "yes"}).secure_cookies is True
    assert Settings.from_env({"FACEAGE_SECURE_COOKIES": "0"}).secure_cookies is False
    with pytest.raises(ValueError, match="FACEAGE_SECURE_COOKIES"):
        Settings.from_env({"FACEAGE_SECURE_COOKIES": "maybe"})
