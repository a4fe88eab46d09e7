"""Pacemaker state: the cluster status (``crm_mon``) and the configuration section of the CIB.

Both read the running cluster through its XML interfaces, which are stable across versions
(unlike the text of ``crm status``). With pacemaker stopped or absent, each returns ``default()``.

Example::

    status = host.get_fact(CrmMon)
    status["dc"], status["quorum"], status["nodes"]["online"]
    [(r["id"], r["role"], r["nodes"]) for r in status["resources"]]
    cib = host.get_fact(CibConfiguration)
    cib["properties"]["stonith-enabled"], cib["resources"]["vips"]
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from pyinfra.api import FactBase, FactProcessError
from typing_extensions import override


def parse_xml(output: list[str], what: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring("\n".join(output))
    except ElementTree.ParseError as error:
        raise FactProcessError(f"{what} did not print XML: {error}")


def element_tree(element: ElementTree.Element) -> dict[str, Any]:
    """An XML element as plain data: ``{"tag", "attrs", "children"}`` (children in order).

    Both the CIB fact and the operations that write the CIB compare objects in this form.
    """
    return {
        "tag": element.tag,
        "attrs": dict(element.attrib),
        "children": [element_tree(child) for child in element],
    }


def _true(value: str | None) -> bool:
    return value == "true"


class CrmMon(FactBase[dict[str, Any]]):
    """``crm_mon --output-as=xml`` as data (the seed's ``crm status``).

    .. code:: python

        {"running": True, "dc": "ctrl-2", "quorum": True,
         "nodes": {"online": ["ctrl-1", ...], "offline": [], "standby": []},
         "resources": [{"id": "vipsrv", "agent": "ocf:heartbeat:IPaddr2", "role": "Started",
                        "active": True, "failed": False, "nodes": ["ctrl-1"], "parent": "vips"},
                       ...]}

    ``parent`` is the group or clone holding the resource; a clone lists one entry per
    instance (stopped instances with ``nodes == []``).
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "crm_mon"

    @staticmethod
    def default() -> dict[str, Any]:
        return {"running": False, "dc": None, "quorum": False,
                "nodes": {"online": [], "offline": [], "standby": []}, "resources": []}

    def command(self) -> str:
        # Not connected (pacemaker stopped): exit 102, CRM_EX_NOT_CONNECTED (crm_error -X --list),
        # and the XML still says why. Any other status (4: insufficient privileges) fails the fact.
        return "crm_mon --output-as=xml || [ $? -eq 102 ]"

    def process(self, output: list[str]) -> dict[str, Any]:
        root = parse_xml(output, "crm_mon")
        status = root.find("status")
        if root.tag != "pacemaker-result" or status is None:
            raise FactProcessError(f"unexpected crm_mon XML: root <{root.tag}>")
        if status.get("code") != "0":
            return {**self.default(), "error": status.get("message")}
        dc = root.find("summary/current_dc")
        nodes: dict[str, list[str]] = {"online": [], "offline": [], "standby": []}
        for node in root.iterfind("nodes/node"):
            name = node.get("name")
            nodes["online" if _true(node.get("online")) else "offline"].append(name)
            if _true(node.get("standby")):
                nodes["standby"].append(name)
        resources: list[dict[str, Any]] = []
        self._collect(root.find("resources"), None, resources)
        return {
            "running": True,
            "dc": dc.get("name") if dc is not None and _true(dc.get("present")) else None,
            "quorum": dc is not None and _true(dc.get("with_quorum")),
            "nodes": nodes,
            "resources": resources,
        }

    def _collect(self, parent, parent_id: str | None, into: list[dict[str, Any]]) -> None:
        if parent is None:
            return
        for child in parent:
            if child.tag == "resource":
                into.append({
                    "id": child.get("id"),
                    "agent": child.get("resource_agent"),
                    "role": child.get("role"),
                    "active": _true(child.get("active")),
                    "failed": _true(child.get("failed")),
                    "nodes": [node.get("name") for node in child.iterfind("node")],
                    "parent": parent_id,
                })
            elif child.tag in ("group", "clone", "bundle"):
                self._collect(child, child.get("id"), into)


class CibConfiguration(FactBase[dict[str, Any]]):
    """The ``configuration`` section of the CIB (``cibadmin --query --scope configuration``).

    .. code:: python

        {"properties": {"stonith-enabled": "false", ...},     # cib-bootstrap-options
         "resources": {"vips": {"tag": "group", "attrs": {...}, "children": [...]}, ...},
         "constraints": {"vips-with-haproxy": {"tag": "rsc_colocation", ...}, ...},
         "fencing_topology": None}     # or the <fencing-topology> element as element_tree() data

    Resources and constraints are the top-level objects by id, as ``element_tree()`` data.
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "cibadmin"

    @staticmethod
    def default() -> dict[str, Any]:
        return {"properties": {}, "resources": {}, "constraints": {}, "fencing_topology": None}

    def command(self) -> str:
        # Not connected (pacemaker stopped): exit 102 and nothing on stdout. Any other status
        # (124: timeout) fails the fact. A user outside haclient gets 102 too (lab 1): run as root.
        return "cibadmin --query --scope configuration || [ $? -eq 102 ]"

    def process(self, output: list[str]) -> dict[str, Any]:
        root = parse_xml(output, "cibadmin")
        if root.tag != "configuration":
            raise FactProcessError(f"unexpected cibadmin XML: root <{root.tag}>")
        return {
            "properties": {
                nvpair.get("name"): nvpair.get("value")
                for nvpair in root.iterfind("crm_config/cluster_property_set[@id='cib-bootstrap-options']/nvpair")
            },
            "resources": {child.get("id"): element_tree(child) for child in root.iterfind("resources/*")},
            "constraints": {child.get("id"): element_tree(child) for child in root.iterfind("constraints/*")},
            "fencing_topology": element_tree(topology) if (topology := root.find("fencing-topology")) is not None
            else None,
        }


class FencingState(FactBase[dict[str, Any]]):
    """The fence devices as pacemaker runs them, their status checks, and the fencing history.

    From ``crm_mon --include=operations`` (each stonith resource: where it runs, failed or not, its
    last monitor there: the device's power status check) and ``stonith_admin --history='*'
    --verbose`` (without ``--verbose`` it lists one event only):

    .. code:: python

        {"devices": [{"id": "fence-ctrl-1-1", "agent": "stonith:fence_ipmilan", "nodes": ["ctrl-2"],
                      "active": True, "failed": False,
                      "check": {"node": "ctrl-2", "rc": "0", "rc_text": "ok",  # "OK" on pacemaker 3
                                "since": "Tue Dec  1 23:59:00 2026"}}],
         "history": [{"target": "ctrl-1", "action": "reboot", "status": "success",
                      "delegate": "ctrl-3", "completed": "2026-12-02 00:10:00Z"}],  # every event, newest first
         "online": ["ctrl-1", "ctrl-2", "ctrl-3"]}  # the cluster's members now

    Pacemaker stopped: ``default()``.
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "stonith_admin"

    @staticmethod
    def default() -> dict[str, Any]:
        return {"devices": [], "history": [], "online": []}

    def command(self) -> str:
        return ("crm_mon --output-as=xml --include=operations || [ $? -eq 102 ]; echo; "
                "stonith_admin --history='*' --verbose --output-as=xml || true")

    def process(self, output: list[str]) -> dict[str, Any]:
        documents, current = [], []
        for line in output:
            if line.startswith(("<?xml", "<pacemaker-result")) and any(l.strip() for l in current):
                documents.append(current)
                current = []
            current.append(line)
        documents.append(current)
        if len(documents) != 2:
            raise FactProcessError(f"expected crm_mon's and stonith_admin's XML, got {len(documents)} document(s)")
        status = CrmMon().process(documents[0])
        if not status["running"]:
            return self.default()
        crm = parse_xml(documents[0], "crm_mon")
        # The last monitor of each device on each node (a device that moved keeps an old one where it ran).
        checks: dict[tuple[str, str], dict[str, str]] = {}
        for node in crm.iterfind("node_history/node"):
            for history in node.iterfind("resource_history"):
                for op in history.iterfind("operation_history[@task='monitor']"):
                    checks[(history.get("id"), node.get("name"))] = {
                        "node": node.get("name"), "rc": op.get("rc"), "rc_text": op.get("rc_text"),
                        "since": op.get("last-rc-change")}
        devices = [
            {key: r[key] for key in ("id", "agent", "nodes", "active", "failed")}
            | {"check": next((checks[(r["id"], n)] for n in r["nodes"] if (r["id"], n) in checks), None)}
            for r in status["resources"] if (r["agent"] or "").startswith("stonith:")
        ]
        fenced = parse_xml(documents[1], "stonith_admin")
        history = [
            {key: event.get(key) for key in ("target", "action", "status", "delegate", "completed")}
            for event in fenced.iter("fence_event")
        ]
        return {"devices": devices, "history": history, "online": status["nodes"]["online"]}
