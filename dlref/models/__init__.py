"""Small models composed from `dlref`'s modules; their maths lives in those modules."""

from dlref.models.autoencoder import Autoencoder, DenoisingAutoencoder
from dlref.models.boltzmann import BoltzmannMachine
from dlref.models.capsule import dynamic_routing, margin_loss, margin_loss_backward, squash, squash_backward
from dlref.models.cnn import CNN, CNNCache
from dlref.models.gan import GAN, GANStep, ModeCoverage, gan_step, mode_coverage
from dlref.models.mlp import MLP, MLPCache
from dlref.models.modular import MixtureOfExperts, MixtureOfExpertsCache
from dlref.models.perceptron import Perceptron, PerceptronHistory, mistake_bound, perceptron_update
from dlref.models.rbm import RBM, DeepBeliefNetwork
from dlref.models.sequence import RecurrentNetwork, RecurrentNetworkCache, adding_problem

__all__ = ["Autoencoder", "DenoisingAutoencoder", "BoltzmannMachine", "RBM", "DeepBeliefNetwork",
           "CNN", "CNNCache", "MLP", "MLPCache", "MixtureOfExperts", "MixtureOfExpertsCache",
           "Perceptron", "PerceptronHistory", "mistake_bound", "perceptron_update",
           "GAN", "GANStep", "ModeCoverage", "gan_step", "mode_coverage",
           "dynamic_routing", "margin_loss", "margin_loss_backward", "squash", "squash_backward",
           "RecurrentNetwork", "RecurrentNetworkCache", "adding_problem"]
