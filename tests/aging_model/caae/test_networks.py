import pytest
import torch

from aging_model.caae.config import ModelConfig
from aging_model.caae.networks import Encoder, Generator, ImageDiscriminator, LatentDiscriminator


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_networks_follow_the_configured_resolution(resolution):
    config = ModelConfig(resolution=resolution, width=8)
    faces = torch.rand(3, 3, resolution, resolution) * 2 - 1
    age = torch.eye(10)[[0, 4, 9]]
    gender = torch.eye(2)[[0, 1, 0]]
    z = Encoder(config)(faces)
    assert z.shape == (3, config.z_dim) and z.abs().max() <= 1
    images = Generator(config)(z, age, gender)
    assert images.shape == faces.shape and images.abs().max() <= 1
    assert ImageDiscriminator(config)(images, age, gender).shape == (3,)
    assert LatentDiscriminator(config)(z).shape == (3,)


def test_generator_output_depends_on_the_age_condition():
    torch.manual_seed(0)
    config = ModelConfig(resolution=32, width=8)
    generator = Generator(config).eval()
    z = torch.rand(1, config.z_dim) * 2 - 1
    young = generator(z, torch.eye(10)[[0]], torch.eye(2)[[0]])
    old = generator(z, torch.eye(10)[[9]], torch.eye(2)[[0]])
    assert (young - old).abs().mean() > 1e-3


def test_resolution_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        ModelConfig(resolution=100)


def test_the_age_critic_gives_one_logit_per_age_group_and_one_for_generated_faces():
    from aging_model.caae.networks import AgeCritic

    config = ModelConfig(resolution=64, width=8)
    assert AgeCritic(config)(torch.zeros(3, 3, 64, 64)).shape == (3, config.n_age_groups + 1)


def test_a_wrong_shape_is_named_where_it_enters_a_network():
    config = ModelConfig(resolution=32, width=8)
    z, age, gender = torch.zeros(3, config.z_dim), torch.eye(10)[[0, 4, 9]], torch.eye(2)[[0, 1, 0]]
    with pytest.raises(AssertionError, match=r"age should have shape \(3, 10\), got \(3, 9\)"):
        Generator(config)(z, age[:, :9], gender)
    with pytest.raises(AssertionError, match=r"gender should have shape \(3, 2\), got \(2, 2\)"):
        Generator(config)(z, age, gender[:2])
    with pytest.raises(AssertionError, match=r"faces should have shape \(3, 3, 32, 32\), got \(3, 3, 64, 64\)"):
        ImageDiscriminator(config)(torch.zeros(3, 3, 64, 64), age, gender)
