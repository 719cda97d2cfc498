"""Random-dataset campaigns (differential testing of the Python core against R).

``generate`` draws datasets, ``models`` names what to fit (built from the
analysis kinds registry), ``batch`` runs both engines with R batched,
``campaign`` compares and classifies, ``shrink`` minimises a disagreeing
dataset and ``reproducer`` writes it as a fixture. Command:
``metaharness fuzz`` (:mod:`harness.commands.fuzz`).
"""
from .campaign import CampaignResult, run_campaign
from .generate import FuzzDataset, dataset
from .models import FuzzModel, available_models, resolve

__all__ = ["CampaignResult", "FuzzDataset", "FuzzModel", "available_models", "dataset", "resolve", "run_campaign"]
