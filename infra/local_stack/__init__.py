"""``make stack``: this CDK app deployed into a local AWS emulator (MiniStack) on 127.0.0.1.

- ``emulator``: MiniStack's own environment (``.build/ministack/``, from
  ``requirements/ministack.txt``) and its process: started on loopback, stopped with everything
  it started.
- ``cdk``: the CDK CLI (``node_modules/.bin/cdk``, from the npm lock) pointed at the emulator:
  ``cdk bootstrap``, ``cdk deploy -c target=local``, the failed CloudFormation events of a
  deploy that did not go through, and the stack's outputs with the API's local URL.
- ``users``: the demo customer and staff member in the deployed user pool, and their tokens.
- ``__main__``: the command itself (``python -m infra.local_stack``), which serves until Ctrl-C.

What differs in the deployed template is decided in one place, ``infra/config.py``
(``-c target=local``); this package only drives the CLI and the emulator.
"""

import os

# Importing the app's modules starts jsii, whose end-of-life banner for Node 20 says nothing about
# the local stack (the tests silence it the same way, tests/infra/infra_helpers.py).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
