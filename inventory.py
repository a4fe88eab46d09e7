"""The controllers prereqos deploys to (edit for your site).

Every controller belongs to the ``controllers`` group; its addresses come from
``group_data/all.py`` (``netprefix`` + ``netsuffix``). SSH reaches each controller on its
srv address unless ``ssh_hostname`` says otherwise. The lab has its own inventory:
``tests/lab/inventory.py``.
"""

controllers = [
    ("ctrl-1", {"ssh_hostname": "10.0.2.11"}),
    ("ctrl-2", {"ssh_hostname": "10.0.2.12"}),
    ("ctrl-3", {"ssh_hostname": "10.0.2.13"}),
]
